"""Who is asking: the client's address, for the 留言 form's limits and the console's login
throttle alike. The peer is the client unless it is one of `[web] trusted_proxies`; then the
right-most X-Forwarded-For address that is not itself a trusted proxy (the left part of the
header is whatever the client wrote and proves nothing)."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in trusted)


def client_address(request: web.Request, trusted_proxies: Sequence[str]) -> str:
    peer = request.remote or ""
    if not trusted_proxies:
        return peer
    networks = _networks(tuple(trusted_proxies))

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    if not trusted(peer):
        return peer
    chain = [
        part.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for part in header.split(",")
        if part.strip()
    ]
    for address in reversed(chain):
        if not trusted(address):
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                return peer  # a malformed hop: fall back to the proxy rather than trust it
    return chain[0] if chain else peer
