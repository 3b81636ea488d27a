"""The client address a request is counted against (sign-in and registration limits).

The backend's peer is the front server, so the front server names the client in
``X-Chat-Client-Address`` on every call it relays, overwriting whatever the client sent (it reads
the peer's address, or the one a proxy named by ``--trust-proxy`` forwards: see
``webserver/clients.py``). The backend listens on loopback, for the front server only; a request
without the header (a script on the same machine) is counted against its own peer address.

An IPv6 address counts by its /64 network: one home or one server usually holds a whole /64, and
counting single addresses would give it 2^64 allowances.
"""

from __future__ import annotations

import ipaddress

from flask import Request

HEADER = "X-Chat-Client-Address"


def client_key(request: Request) -> str:
    """The key the per-address limits count ``request`` under."""
    named = request.headers.get(HEADER, "").strip()
    return address_key(named or request.remote_addr or "")


def address_key(text: str) -> str:
    """An IPv4 address as it is, an IPv6 address as its /64 network; anything else as given."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
