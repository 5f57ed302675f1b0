from django.urls import path

from eligibility import views

app_name = "eligibility"

urlpatterns = [
    path("", views.start, name="start"),
    path("questions/", views.begin, name="begin"),
    path("questions/check/", views.check, name="check"),
    path("questions/result/", views.result, name="result"),
    path("questions/<slug:key>/", views.question, name="question"),
]
