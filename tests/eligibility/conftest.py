import pytest

from eligibility.models import ScreenerVersion
from eligibility.selectors import Screener, load_screener


@pytest.fixture
def screener(published: ScreenerVersion) -> Screener:
    return load_screener(published)
