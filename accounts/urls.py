from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("two-factor/", views.second_factor, name="second-factor"),
    path("two-factor/set-up/", views.set_up_authenticator, name="set-up-authenticator"),
    path("two-factor/recovery-codes/", views.recovery_codes, name="recovery-codes"),
]
