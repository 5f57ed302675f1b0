"""Nobody changes their own access through the admin: their staff and superuser status, roles
(groups), single permissions, their role's permissions or their office assignments. Program
administrators still change other people's; superuser status and single permissions are for
superusers to grant."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from appointments.models import Office
from core.services import ROLE_OFFICE_STAFF, ROLE_PROGRAM_ADMIN, ROLE_SUPERVISOR, ensure_roles
from tests.appointments.conftest import OfficeFactory, office_form
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

User = get_user_model()


def member(name: str, role: str, **flags: bool):
    ensure_roles()
    user = User.objects.create_user(username=name, password="x" * 16, is_staff=True, **flags)
    user.groups.add(Group.objects.get(name=role))
    return user, sign_in(Client(headers={"accept-language": "en"}), user)


def user_form(user, **changes):
    """The user's admin page as sent, with `changes`."""
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        **({"is_staff": "on"} if user.is_staff else {}),
        **({"is_superuser": "on"} if user.is_superuser else {}),
        "groups": [group.pk for group in user.groups.all()],
        "user_permissions": [p.pk for p in user.user_permissions.all()],
        "date_joined_0": "2026-01-05",
        "date_joined_1": "09:00:00",
        **changes,
    }


def access(user) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        user.is_staff,
        user.is_superuser,
        sorted(user.groups.values_list("name", flat=True)),
        sorted(user.user_permissions.values_list("codename", flat=True)),
    )


def change(client: Client, user, **changes):
    return client.post(f"/admin/auth/user/{user.pk}/change/", user_form(user, **changes))


@pytest.mark.parametrize("superuser", [True, False], ids=["superuser", "program administrator"])
def test_nobody_changes_their_own_status_roles_or_permissions(superuser):
    me, client = member("yo", ROLE_PROGRAM_ADMIN, is_superuser=superuser)
    before = access(me)
    page = client.get(f"/admin/auth/user/{me.pk}/change/").content.decode()
    for field in ("is_staff", "is_superuser", "groups", "user_permissions"):
        assert f'name="{field}"' not in page, field
    response = change(
        client,
        me,
        is_staff="",
        is_superuser="on" if not superuser else "",
        groups=[Group.objects.get(name=ROLE_OFFICE_STAFF).pk],
        user_permissions=[Permission.objects.get(codename="export_personal_data").pk],
        first_name="Yolanda",
    )
    assert response.status_code == 302
    assert access(me) == before
    # The rest of their own account they do change.
    assert User.objects.get(pk=me.pk).first_name == "Yolanda"


def test_a_program_administrator_still_changes_other_peoples_roles_and_staff_status():
    _, client = member("programa", ROLE_PROGRAM_ADMIN)
    other, _ = member("ana", ROLE_OFFICE_STAFF)
    response = change(client, other, groups=[Group.objects.get(name=ROLE_SUPERVISOR).pk])
    assert response.status_code == 302
    assert access(other)[2] == [ROLE_SUPERVISOR]
    change(client, other, is_staff="")
    assert access(other)[0] is False


def test_only_a_superuser_grants_superuser_status_or_single_permissions():
    _, administrator = member("programa", ROLE_PROGRAM_ADMIN)
    _, root = member("raiz", ROLE_PROGRAM_ADMIN, is_superuser=True)
    other, _ = member("ana", ROLE_OFFICE_STAFF)
    permission = Permission.objects.get(codename="export_personal_data")
    change(administrator, other, is_superuser="on", user_permissions=[permission.pk])
    assert access(other)[1:] == (False, [ROLE_OFFICE_STAFF], [])
    change(root, other, is_superuser="on", user_permissions=[permission.pk])
    assert access(other)[1:] == (True, [ROLE_OFFICE_STAFF], ["export_personal_data"])


def test_a_superusers_account_is_for_superusers_to_change():
    _, administrator = member("programa", ROLE_PROGRAM_ADMIN)
    root, _ = member("raiz", ROLE_PROGRAM_ADMIN, is_superuser=True)
    before = access(root)
    assert change(administrator, root, groups=[], is_superuser="").status_code == 403
    assert administrator.get(f"/admin/auth/user/{root.pk}/password/").status_code == 403
    assert access(root) == before


def test_the_permissions_of_a_role_one_holds_are_read_only():
    _, root = member("raiz", ROLE_PROGRAM_ADMIN, is_superuser=True)
    mine = Group.objects.get(name=ROLE_PROGRAM_ADMIN)
    before = set(mine.permissions.values_list("pk", flat=True))
    page = root.get(f"/admin/auth/group/{mine.pk}/change/").content.decode()
    assert 'name="permissions"' not in page
    root.post(f"/admin/auth/group/{mine.pk}/change/", {"name": mine.name, "permissions": []})
    assert set(mine.permissions.values_list("pk", flat=True)) == before
    # A role they do not hold they change.
    other = Group.objects.get(name=ROLE_SUPERVISOR)
    permission = Permission.objects.get(codename="export_personal_data")
    response = root.post(
        f"/admin/auth/group/{other.pk}/change/",
        {"name": other.name, "permissions": [*other.permissions.values_list("pk", flat=True), permission.pk]},
    )
    assert response.status_code == 302
    assert other.permissions.filter(pk=permission.pk).exists()


def test_program_administrators_do_not_edit_roles():
    _, administrator = member("programa", ROLE_PROGRAM_ADMIN)
    group = Group.objects.get(name=ROLE_SUPERVISOR)
    assert administrator.get(f"/admin/auth/group/{group.pk}/change/").status_code == 200  # to read
    assert administrator.post(f"/admin/auth/group/{group.pk}/change/", {"name": "x"}).status_code == 403


def post_office(client: Client, office: Office, staff: list[int]):
    return client.post(f"/admin/appointments/office/{office.pk}/change/", office_form(office, staff=staff))


@pytest.mark.parametrize("role", [ROLE_SUPERVISOR, ROLE_PROGRAM_ADMIN])
def test_nobody_adds_themselves_to_an_office(published, role):
    office = OfficeFactory()
    me, client = member("yo", role)
    response = post_office(client, office, [me.pk])
    assert response.status_code == 200
    assert "You cannot add yourself to an office&#x27;s staff or remove yourself" in response.content.decode()
    assert not office.staff.exists()


def test_nobody_removes_themselves_from_an_office(published):
    office = OfficeFactory()
    me, client = member("yo", ROLE_SUPERVISOR)
    colleague, _ = member("ana", ROLE_OFFICE_STAFF)
    office.staff.add(me, colleague)
    response = post_office(client, office, [colleague.pk])
    assert response.status_code == 200
    assert set(office.staff.all()) == {me, colleague}


def test_administrators_still_assign_other_people_to_offices(published):
    office = OfficeFactory()
    me, client = member("yo", ROLE_SUPERVISOR)
    colleague, _ = member("ana", ROLE_OFFICE_STAFF)
    office.staff.add(me)
    # Their own place kept, someone else added: saved.
    response = post_office(client, office, [me.pk, colleague.pk])
    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(office.staff.all()) == {me, colleague}
    response = post_office(client, office, [me.pk])
    assert response.status_code == 302
    assert set(office.staff.all()) == {me}
