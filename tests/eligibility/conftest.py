import pytest
from django.apps import apps

from eligibility import seed
from eligibility.models import ScreenerVersion
from eligibility.selectors import Screener, load_screener


@pytest.fixture
def published(db: None) -> ScreenerVersion:
    """The seeded 2023 program (loaded by a migration; reloaded if a flush emptied the tables)."""
    seed.load(apps)
    return ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)


@pytest.fixture
def screener(published: ScreenerVersion) -> Screener:
    return load_screener(published)
