import datetime

from django.urls import path, register_converter

from appointments import views


class IsoDate:
    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> datetime.date:
        return datetime.date.fromisoformat(value)  # a ValueError makes the URL not match: 404

    def to_url(self, value: datetime.date) -> str:
        return value.isoformat()


register_converter(IsoDate, "isodate")

app_name = "appointments"

urlpatterns = [
    path("book/", views.start, name="start"),
    path("book/office/", views.choose_office, name="choose-office"),
    path("book/office/<slug:office>/", views.choose_day, name="choose-day"),
    path("book/office/<slug:office>/<isodate:date>/", views.choose_slot, name="choose-slot"),
    path("book/details/", views.details, name="details"),
    path("book/check/", views.check, name="check"),
    path("manage/", views.manage, name="manage"),
    path("manage/link/<str:token>/", views.manage_link, name="manage-link"),
    path("manage/appointment/", views.appointment, name="appointment"),
    path("manage/appointment/calendar.ics", views.calendar_file, name="calendar"),
    path("manage/cancel/", views.cancel, name="cancel"),
    path("manage/move/", views.move_day, name="move-day"),
    path("manage/move/<isodate:date>/", views.move_slot, name="move-slot"),
    path("manage/move/confirm/", views.move_confirm, name="move-confirm"),
]
