"""Who sees what: staff of office A walk every admin URL the project defines against the objects
of office B (lists, change, history, delete, actions, autocomplete, the queue and its actions, the
calling screen's management, ticket printing) and get 404 or 403 each time, or a list without B's
data; nothing of B changes."""

import re

import pytest
from django.contrib import admin
from django.urls import URLPattern

from appointments.models import Appointment, Closure, Office, Slot
from desk import services
from desk.models import DeskSettings, Ticket
from notifications.models import Notification
from tests.desk.conftest import book_today, staff_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(desk_office, other_office, published):
    """Office A (the user's) and office B, each with an appointment, a ticket, a message and a
    closure."""
    _, b_staff = staff_of(other_office, name="b-desk")
    theirs = book_today(other_office, published, 1, full_name="Beatriz Bee", document_number="BEE999")
    ticket = services.check_in(office=other_office, appointment_id=theirs.pk, actor=b_staff)
    closure = Closure.objects.create(office=other_office, starts_on="2027-01-05", ends_on="2027-01-05", reason="B day")
    mine = book_today(desk_office, published, 39, full_name="Alma Ay", document_number="AYE111")  # later today
    client, _ = staff_of(desk_office)
    b_objects = {
        Office: other_office,
        Closure: closure,
        Slot: theirs.slot,
        Appointment: theirs,
        Notification: Notification.objects.filter(appointment=theirs).first(),
        Ticket: ticket,
    }
    return client, b_objects, mine, theirs, ticket


def admin_patterns() -> list[tuple[type, URLPattern]]:
    found = []
    for model, model_admin in admin.site._registry.items():
        found.extend((model, pattern) for pattern in model_admin.get_urls() if pattern.name)
    return found


def url_for(model, pattern: URLPattern, b_objects: dict, other_office: Office, ticket: Ticket, theirs) -> str | None:
    route = str(pattern.pattern)
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    if model not in b_objects:
        return None  # not an office's object (screener data, users): program administrators only
    if "<path:object_id>" in route:
        target = b_objects[model]
        route = route.replace("<path:object_id>", str(target.pk))
    values = {"office_id": other_office.pk, "appointment_id": theirs.pk, "ticket_id": ticket.pk, "action_name": "serve"}
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route)
    return base + route


def test_staff_of_one_office_reach_nothing_of_another(world, other_office):
    client, b_objects, mine, theirs, ticket = world
    before = (Appointment.objects.get(pk=theirs.pk).revision, Ticket.objects.get(pk=ticket.pk).times_called)
    checked = 0
    for model, pattern in admin_patterns():
        url = url_for(model, pattern, b_objects, other_office, ticket, theirs)
        if url is None:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            body = response.content.decode(errors="replace")
            if "<int:office_id>" in str(pattern.pattern) or "object_id" in str(pattern.pattern):
                # 405: a page that takes only GET or only POST says so before looking at anything.
                assert response.status_code in {403, 404, 405}, (method, url, response.status_code)
                assert "Beatriz Bee" not in body
            else:  # a list or an add page: forbidden, or without B's data
                assert response.status_code in {200, 302, 403, 405}, (method, url, response.status_code)
                for private in ("Beatriz Bee", "BEE999", theirs.display_reference, other_office.name):
                    assert private not in body, (method, url, private)
            checked += 1
    assert checked > 40
    # Actions on a list take B's rows out of the selection before acting.
    client.post("/admin/appointments/appointment/", {"action": "cancel", "_selected_action": [theirs.pk, mine.pk]})
    assert Appointment.objects.get(pk=theirs.pk).status == "checked_in"
    assert Appointment.objects.get(pk=mine.pk).status == "cancelled"
    # Autocomplete and filters give nothing of B either.
    for params in (
        {"app_label": "appointments", "model_name": "closure", "field_name": "office", "term": "Other"},
        {"app_label": "desk", "model_name": "counter", "field_name": "office", "term": "Other"},
    ):
        response = client.get("/admin/autocomplete/", params)
        assert response.status_code in {200, 403, 404}
        assert "Other office" not in response.content.decode()
    own = {"app_label": "appointments", "model_name": "closure", "field_name": "office", "term": "Desk"}
    assert "Desk office" in client.get("/admin/autocomplete/", own).content.decode()  # the search works
    listing = client.get("/admin/appointments/appointment/", {"office": other_office.pk}).content.decode()
    assert theirs.display_reference not in listing
    assert (Appointment.objects.get(pk=theirs.pk).revision, Ticket.objects.get(pk=ticket.pk).times_called) == before
    # The calling screen's key of B is never shown to A.
    key = DeskSettings.objects.get(office=other_office).screen_key
    for url in ("/admin/desk/ticket/", f"/admin/desk/ticket/queue/{b_objects[Office].pk}/screen/"):
        assert key not in client.get(url).content.decode()


def test_office_a_s_pages_do_not_take_office_b_s_ids(world, desk_office):
    """The realistic attempt: A's own queue URLs with B's appointment or ticket ids."""
    client, _, _mine, theirs, ticket = world
    base = f"/admin/desk/ticket/queue/{desk_office.pk}/"
    before = (Appointment.objects.get(pk=theirs.pk).revision, Ticket.objects.get(pk=ticket.pk).times_called)
    for method, path in [
        ("post", f"check-in/{theirs.pk}/"),
        ("post", f"no-show/{theirs.pk}/"),
        ("post", f"ticket/{ticket.pk}/call/"),
        ("post", f"ticket/{ticket.pk}/serve/"),
        ("post", f"ticket/{ticket.pk}/no-show/"),
        ("post", f"ticket/{ticket.pk}/requeue/"),
        ("get", f"ticket/{ticket.pk}/print/"),
    ]:
        response = getattr(client, method)(base + path)
        assert response.status_code == 404, (method, path, response.status_code)
    assert (Appointment.objects.get(pk=theirs.pk).revision, Ticket.objects.get(pk=ticket.pk).times_called) == before
    found = client.post(f"{base}find/", {"q": theirs.reference}).context["found"]
    assert found == []  # B's reference is not found from A's desk
