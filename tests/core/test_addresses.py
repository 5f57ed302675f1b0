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
        # Not through the load balancer, or nonsense in the header: the connection's address.
        ({"REMOTE_ADDR": "10.0.0.2"}, "10.0.0.2"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "203.0.113.5, 10.0.0.9"}, "10.0.0.2"),
    ],
)
def test_behind_a_load_balancer_the_address_is_its_header(meta, expected):
    assert client_ip(RequestFactory().get("/", **meta)) == expected
