"""Writes for site-wide data: the roles and the demo data for `make run`."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from allocation.demo import load_demo_allocation
from appointments.demo import load_demo_offices
from desk.demo import load_demo_queues
from reports.demo import load_demo_history

# Role names are stable identifiers used in code (and shown as they are in the admin).
ROLE_OFFICE_STAFF = "Office staff"
ROLE_SUPERVISOR = "Supervisor"
ROLE_PROGRAM_ADMIN = "Program administrator"
ROLES = (ROLE_OFFICE_STAFF, ROLE_SUPERVISOR, ROLE_PROGRAM_ADMIN)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    is_superuser: bool = False


# Local demo only: these passwords are published in README.md.
DEMO_ACCOUNTS = (
    DemoAccount("staff", "demo-staff-2026", ROLE_OFFICE_STAFF),
    DemoAccount("supervisor", "demo-supervisor-2026", ROLE_SUPERVISOR),
    DemoAccount("admin", "demo-admin-2026", ROLE_PROGRAM_ADMIN, is_superuser=True),
)


# What each role may do in the admin, as (app label, model) pairs given every permission.
ROLE_MODELS = {
    ROLE_PROGRAM_ADMIN: [
        ("eligibility", model)
        for model in ("pathway", "screenerversion", "question", "hostcountry", "pathwayrule", "screening")
    ]
    + [("appointments", model) for model in ("office", "openinghours", "closure", "slot", "hold", "appointment")]
    + [("notifications", "notification")]
    + [("desk", model) for model in ("desksettings", "counter", "ticket")]
    # The export log to read, the reports and exports with personal data.
    + [("reports", "exportlog")]
    + [("allocation", "draw"), ("allocation", "lotteryrequest")],
}

# Finer grants, as "app_label.codename".
ROLE_PERMISSIONS = {
    # The audit trails can be read, never written or deleted, by anyone (the code writes them).
    ROLE_PROGRAM_ADMIN: [
        "appointments.view_appointmentevent",
        "appointments.view_officeevent",
        # The sign-in lockout's counts, and unlocking (accounts/admin.py).
        "accounts.view_signinfailures",
        "accounts.delete_signinfailures",
        # Who has an authenticator app, and removing a lost one (accounts/admin.py).
        "accounts.view_authenticator",
        "accounts.delete_authenticator",
        # Users and their roles (never their own; superuser status and single permissions are for
        # superusers: accounts/admin.py). The roles' permissions are set by ensure_roles.
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "allocation.view_waitlistentry",
    ],
    # Their own offices' appointments (Office.staff), to find, look at and cancel, and the queue.
    ROLE_OFFICE_STAFF: [
        "appointments.view_office",
        "desk.view_ticket",
        "desk.change_ticket",
        "desk.view_counter",
        "desk.view_desksettings",
        "appointments.view_appointment",
        "appointments.change_appointment",
        "appointments.view_slot",
        "appointments.view_closure",
        "notifications.view_notification",
        "notifications.change_notification",
        # Their office's waitlist, read-only (allocation/admin/waitlist.py).
        "allocation.view_waitlistentry",
        # The lottery draws of their offices (allocation/admin/lottery.py): create, see the
        # hash, the seed once drawn and the result. Requests are read-only.
        "allocation.view_draw",
        "allocation.add_draw",
        "allocation.change_draw",
        "allocation.view_lotteryrequest",
    ],
    # Every office: figures, opening hours and closures.
    ROLE_SUPERVISOR: [
        "appointments.view_all_offices",
        "appointments.view_office",
        "appointments.change_office",
        "appointments.view_openinghours",
        "appointments.add_openinghours",
        "appointments.change_openinghours",
        "appointments.delete_openinghours",
        "appointments.view_closure",
        "appointments.add_closure",
        "appointments.change_closure",
        "appointments.delete_closure",
        "appointments.view_slot",
        "appointments.view_appointment",
        "appointments.change_appointment",
        "notifications.view_notification",
        "notifications.change_notification",
        # The queue of every office; its desk settings and counters are configured by program
        # administrators.
        "desk.view_ticket",
        "desk.change_ticket",
        "desk.view_desksettings",
        "desk.view_counter",
        # Figures and exports of every office, without personal data.
        "reports.view_reports",
        # Every office's waitlist, read-only.
        "allocation.view_waitlistentry",
        # The lottery draws of their offices (allocation/admin/lottery.py): create, see the
        # hash, the seed once drawn and the result. Requests are read-only.
        "allocation.view_draw",
        "allocation.add_draw",
        "allocation.change_draw",
        "allocation.view_lotteryrequest",
    ],
}


def ensure_roles() -> dict[str, Group]:
    """Create the role groups if missing and give them their permissions; return them by name."""
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    for role, models in ROLE_MODELS.items():
        permissions = Permission.objects.filter(
            Q(*[Q(content_type__app_label=app, content_type__model=model) for app, model in models], _connector=Q.OR)
        )
        groups[role].permissions.add(*permissions)
    for role, names in ROLE_PERMISSIONS.items():
        wanted = Q(
            *[Q(content_type__app_label=name.split(".")[0], codename=name.split(".")[1]) for name in names],
            _connector=Q.OR,
        )
        groups[role].permissions.add(*Permission.objects.filter(wanted))
    # Audit trails are written by the code only: nobody may add, change or delete a row.
    for group in groups.values():
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="appointments",
                content_type__model__in=["appointmentevent", "officeevent"],
                codename__regex=r"^(add|change|delete)_",
            )
        )
    return groups


def load_demo_data() -> None:
    """Create or reset the demo accounts and offices, book today's queue at the demo offices (once
    a day) and four weeks of history for the reports (once), and the lottery and waitlist offices
    (allocation.demo); running it again changes nothing else."""
    _load_accounts_and_offices()
    # Bookings and desk actions are durable transactions of their own. A lottery office with a
    # window open now, and an office whose days are full (the waitlist), first: they get a queue
    # and a history too.
    load_demo_allocation()
    load_demo_queues()
    load_demo_history()


@transaction.atomic
def _load_accounts_and_offices() -> None:
    groups = ensure_roles()
    user_model = get_user_model()
    for account in DEMO_ACCOUNTS:
        user, _ = user_model.objects.get_or_create(username=account.username)
        user.is_staff = True
        user.is_superuser = account.is_superuser
        user.set_password(account.password)
        user.full_clean()
        user.save()
        user.groups.set([groups[account.role]])
    load_demo_offices()
