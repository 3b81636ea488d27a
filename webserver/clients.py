"""Which client a request comes from, for the backend's limits per address.

Without ``--trust-proxy`` the client is the TCP peer and ``X-Forwarded-For`` is ignored: anyone can
write that header, so believing it would let one client pass for any number of others. Behind a
reverse proxy every peer is the proxy; ``--trust-proxy ADDRESS`` (repeatable; an address or a
network such as ``10.0.0.0/8``) names the proxies whose ``X-Forwarded-For`` is believed. The
header is then read from the right (each proxy appends the address it received from), skipping
the trusted proxies, and the first address that is not one of them is the client: entries to its
left were written by the client itself and are not believed.

The relay sends the result to the backend in ``X-Chat-Client-Address`` (``backend/clients.py``),
set on every call it makes, so a value the client sent under that name never reaches the backend.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import Request

from common.addresses import is_ip_address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(texts: Iterable[str]) -> list[Network]:
    """``--trust-proxy`` values as networks; raises ValueError naming a value that is not one."""
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {text!r}") from None
    return networks


def client_address(request: Request, trusted: list[Network]) -> str:
    """The client's address: the peer's, or the one trusted proxies forward (module docstring)."""
    peer = request.remote_addr or ""
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("X-Forwarded-For") for hop in value.split(",")]
    for hop in reversed(hops):
        if not is_ip_address(hop):
            return peer  # a malformed chain says nothing believable
        if not _is_trusted(hop, trusted):
            return hop
    return peer


def _is_trusted(text: str, trusted: list[Network]) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return any(address in network for network in trusted)
