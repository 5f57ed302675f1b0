import datetime

from django.urls import path, register_converter

from appointments.views import booking, confirm, manage


class IsoDate:
    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> datetime.date:
        return datetime.date.fromisoformat(value)  # a ValueError makes the URL not match: 404

    def to_url(self, value: datetime.date) -> str:
        return value.isoformat()


register_converter(IsoDate, "isodate")

app_name = "appointments"

urlpatterns = [
    path("book/", booking.start, name="start"),
    path("book/office/", booking.choose_office, name="choose-office"),
    path("book/office/<slug:office>/", booking.choose_day, name="choose-day"),
    path("book/office/<slug:office>/<isodate:date>/", booking.choose_slot, name="choose-slot"),
    path("book/people/", booking.people, name="people"),
    path("book/details/", booking.details, name="details"),
    path("book/check/", confirm.check, name="check"),
    path("book/phone/", confirm.verify_phone, name="verify-phone"),
    path("manage/", manage.manage, name="manage"),
    path("manage/link/<str:token>/", manage.manage_link, name="manage-link"),
    path("manage/appointment/", manage.appointment, name="appointment"),
    path("manage/appointment/calendar.ics", manage.calendar_file, name="calendar"),
    path("manage/close/", manage.close, name="close"),
    path("manage/cancel/", manage.cancel, name="cancel"),
    path("manage/delete/", manage.delete_data, name="delete-data"),
    path("manage/move/", manage.move_day, name="move-day"),
    path("manage/move/<isodate:date>/", manage.move_slot, name="move-slot"),
    path("manage/move/confirm/", manage.move_confirm, name="move-confirm"),
]
