"""The client's address, one way for the rate limits and the sign-in lockout."""

import pytest
from django.test import RequestFactory, override_settings

from core.addresses import client_ip


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"REMOTE_ADDR": "198.51.100.7"}, "198.51.100.7"),
        # One client holds a whole IPv6 /64, as django-ratelimit counts it.
        ({"REMOTE_ADDR": "2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2::"),
        ({"REMOTE_ADDR": ""}, None),
        # An IPv4 client on a dual-stack socket: its own address, not the /64 (::) of all of them.
        ({"REMOTE_ADDR": "::ffff:203.0.113.5"}, "203.0.113.5"),
        ({"REMOTE_ADDR": "::ffff:203.0.113.6"}, "203.0.113.6"),
    ],
)
def test_without_a_load_balancer_the_address_is_the_connections(meta, expected):
    assert client_ip(RequestFactory().get("/", **meta)) == expected


@override_settings(RATELIMIT_IP_META_KEY="HTTP_X_REAL_IP")
@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "203.0.113.5"}, "203.0.113.5"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": " 203.0.113.5 "}, "203.0.113.5"),
        # A list (X-Forwarded-For): its last entry, the one the load balancer appended; what the
        # client wrote before it changes nothing.
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "203.0.113.5, 198.51.100.9"}, "198.51.100.9"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "1.2.3.4, 5.6.7.8,198.51.100.9"}, "198.51.100.9"),
        # Not through the load balancer, or nonsense in the header or at its end: the connection's.
        ({"REMOTE_ADDR": "10.0.0.2"}, "10.0.0.2"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "unknown"}, "10.0.0.2"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "203.0.113.5, "}, "10.0.0.2"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "203.0.113.5, nonsense"}, "10.0.0.2"),
    ],
)
def test_behind_a_load_balancer_the_address_is_its_header(meta, expected):
    assert client_ip(RequestFactory().get("/", **meta)) == expected


@pytest.mark.django_db
@override_settings(RATELIMIT_IP_META_KEY="HTTP_X_REAL_IP")
def test_the_rate_limits_count_the_same_address_and_never_fail_on_a_missing_header():
    """A request that did not come through the load balancer, or with nonsense in the header, is
    counted against its connection's address like the live-hold cap does, not refused: a limit
    that fails closed would otherwise answer 429 to every such request. A list counts by its last
    entry, so clients behind X-Forwarded-For are counted apart, and a forged first entry does not
    make a new address."""
    from core.limits import over_limit

    factory = RequestFactory()
    group = "tests.addresses"
    header = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "nonsense"}
    for meta in ({"REMOTE_ADDR": "10.0.0.2"}, header):
        assert over_limit(factory.post("/", **meta), group=group, rate="2/h", fail_closed=True) is None
    # Both were counted against 10.0.0.2: the third from it is over; another address is not.
    assert over_limit(factory.post("/", REMOTE_ADDR="10.0.0.2"), group=group, rate="2/h", fail_closed=True)
    other = factory.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="203.0.113.5")
    assert over_limit(other, group=group, rate="2/h", fail_closed=True) is None
    # Behind X-Forwarded-For: the second request from 203.0.113.5 with a forged first entry is
    # still 203.0.113.5's (its third is over), and another client behind the same load balancer
    # is not.
    forged = factory.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="192.0.2.77, 203.0.113.5")
    assert over_limit(forged, group=group, rate="2/h", fail_closed=True) is None
    assert over_limit(forged, group=group, rate="2/h", fail_closed=True)
    neighbour = factory.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="192.0.2.77, 203.0.113.6")
    assert over_limit(neighbour, group=group, rate="2/h", fail_closed=True) is None
