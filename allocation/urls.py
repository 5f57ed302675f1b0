"""Public pages of fair allocation, under the language prefix."""

from allocation.views import lottery, waitlist

app_name = "allocation"
urlpatterns = [*waitlist.urlpatterns, *lottery.urlpatterns]
