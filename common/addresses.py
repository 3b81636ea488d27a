"""Whether a text is an IP address: the Host check of the backend and the client address of the
front server both tell addresses from names with it."""

from __future__ import annotations

import ipaddress


def is_ip_address(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address (without brackets or port)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
