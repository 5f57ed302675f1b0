"""The client's network address, taken one way for every limit: django-ratelimit's rate limits
and django-axes' sign-in lockout."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address django-ratelimit counts: the header named by RATELIMIT_IP_META_KEY (set by the
    load balancer) or else REMOTE_ADDR, reduced to its network as django-ratelimit does
    (RATELIMIT_IPV6_MASK, /64 by default: one client holds a whole IPv6 /64).

    A header that holds a list (X-Forwarded-For: "client, proxy, ...") counts by its last entry,
    the one the load balancer itself appended: every earlier entry is whatever the client sent, so
    trusting one would let a bot be a new address at each request, and refusing the list would make
    every client one address (the load balancer's) and share its limits.

    Unlike django-ratelimit, a request without the header (one that did not come through the load
    balancer) or with a value that is no address falls back to REMOTE_ADDR instead of failing."""
    meta_key = getattr(settings, "RATELIMIT_IP_META_KEY", None) or "REMOTE_ADDR"
    for value in (request.META.get(meta_key, ""), request.META.get("REMOTE_ADDR", "")):
        try:
            address = ipaddress.ip_address(value.rsplit(",", 1)[-1].strip())
        except ValueError:
            continue
        if address.version == 6 and address.ipv4_mapped is not None:
            # ::ffff:a.b.c.d (a dual-stack socket): the IPv4 client, not the /64 all of them share.
            address = address.ipv4_mapped
        mask = (
            getattr(settings, "RATELIMIT_IPV6_MASK", 64)
            if address.version == 6
            else getattr(settings, "RATELIMIT_IPV4_MASK", 32)
        )
        return str(ipaddress.ip_network(f"{address}/{mask}", strict=False).network_address)
    return None
