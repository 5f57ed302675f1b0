"""The waitlist pages."""

urlpatterns: list = []
