"""Imports point down the layers of docs/architecture.md: a lower app never imports a higher one,
except the one declared exception (a booking change writes its outbox rows in its own
transaction)."""

import ast
from pathlib import Path

from django.conf import settings

# Bottom to top. `notifications` reads appointments to write and render messages.
LAYERS = [
    "core",
    "accounts",
    "eligibility",
    "appointments",
    "notifications",
    "desk",
    "allocation",
    "reports",
    "retention",
]
DECLARED_EXCEPTIONS = {
    ("appointments.services.booking", "notifications.services"),
    ("appointments.services.changes", "notifications.services"),
    ("appointments.services.changes", "notifications.models"),
    ("appointments.services.booking", "notifications.models"),
    # Erasing an appointment's personal data erases its messages' recipients in the same transaction.
    ("appointments.services.erasure", "notifications.services"),
    # A phone code's SMS is written with the code, in the same transaction (issue 13).
    ("appointments.services.phone_codes", "notifications.services"),
    ("appointments.services.phone_codes", "notifications.models"),
    # The demo data (make run only) seeds every layer.
    ("core.services", "appointments.demo"),
    ("core.services", "desk.demo"),
    ("core.services", "reports.demo"),
    ("core.services", "allocation.demo"),
}
BASE = Path(settings.BASE_DIR)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(BASE).with_suffix("").parts).removesuffix(".__init__")


def upward_imports() -> set[tuple[str, str]]:
    upward = set()
    for app in LAYERS:
        for path in (BASE / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            here = LAYERS.index(app)
            for imported in imports_of(path):
                top = imported.split(".")[0]
                if top in LAYERS and LAYERS.index(top) > here:
                    target = imported if Path(BASE, *imported.split(".")).with_suffix(".py").exists() else ""
                    upward.add((module_name(path), target or imported.rsplit(".", 1)[0]))
    return upward


def test_lower_apps_never_import_higher_ones():
    assert upward_imports() <= DECLARED_EXCEPTIONS


def test_the_check_sees_an_upward_import():
    """The check above is not vacuous: it finds the declared exceptions themselves."""
    assert ("appointments.services.booking", "notifications.services") in upward_imports()
