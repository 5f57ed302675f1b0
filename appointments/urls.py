from django.urls import path

from appointments import views

app_name = "appointments"

urlpatterns = [
    path("book/", views.start, name="start"),
]
