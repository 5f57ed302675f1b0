"""Messages in the admin: on each appointment's page and on their own page, filtered, limited to
the offices a user may see, and sent again through the service."""

import pytest

from appointments.services.slots import generate_slots
from core.services import ROLE_OFFICE_STAFF, ROLE_SUPERVISOR
from notifications.models import Notification
from tests.appointments.conftest import NOW, OfficeFactory
from tests.appointments.test_admin import user_in
from tests.notifications.conftest import book

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(office, published):
    other = OfficeFactory(name="South office")
    generate_slots(office=other, now=NOW)
    here = book(office, published)
    there = book(other, published, document_number="S1")
    Notification.objects.filter(appointment=here, channel="email").update(
        status="failed", last_error="recipient refused: [550]"
    )
    return here, there


def test_failed_messages_show_their_reason_to_the_office_s_staff_only(two, office):
    here, there = two
    staff, user = user_in(ROLE_OFFICE_STAFF, "counter")
    office.staff.add(user)
    listing = staff.get("/admin/notifications/notification/", {"status__exact": "failed"}).content.decode()
    assert here.display_reference in listing
    assert there.display_reference not in listing
    assert "South office" not in listing
    failed = Notification.objects.get(appointment=here, channel="email")
    page = staff.get(f"/admin/notifications/notification/{failed.pk}/change/").content.decode()
    assert "recipient refused: [550]" in page
    page = staff.get(f"/admin/appointments/appointment/{here.pk}/change/").content.decode()
    assert "recipient refused: [550]" in page  # listed on the appointment too
    assert (
        staff.get(
            f"/admin/notifications/notification/{Notification.objects.filter(appointment=there).first().pk}/change/"
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status__exact": "failed"}, 1),
        ({"kind__exact": "confirmation"}, 4),
        ({"channel__exact": "sms"}, 2),
        ({"kind__exact": "reminder"}, 0),
    ],
)
def test_filters(two, filters, expected):
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    response = supervisor.get("/admin/notifications/notification/", filters)
    assert response.context["cl"].result_count == expected


def test_office_filter(two, office):
    here, _ = two
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    response = supervisor.get("/admin/notifications/notification/", {"office": office.pk})
    assert {n.appointment_id for n in response.context["cl"].result_list} == {here.pk}


def test_send_again_goes_through_the_service(two):
    _, there = two
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    failed = Notification.objects.get(status="failed")
    pending = Notification.objects.filter(appointment=there).first()
    response = supervisor.post(
        "/admin/notifications/notification/",
        {"action": "send_again", "_selected_action": [failed.pk, pending.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "1 message will be sent again." in page
    assert "Only failed messages can be sent again." in page
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
