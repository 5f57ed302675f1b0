"""The lottery pages."""

urlpatterns: list = []
