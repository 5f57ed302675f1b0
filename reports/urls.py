from django.contrib import admin
from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", admin.site.admin_view(views.export), name="export"),
    path("exports/<uuid:pk>/", admin.site.admin_view(views.export_file), name="export-file"),
    path("exports/<uuid:pk>/file/", admin.site.admin_view(views.download_export_file), name="export-download"),
]
