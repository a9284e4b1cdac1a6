"""Where webhooks may be sent. A partner chooses the URL, and we POST to it from inside our
network, so an unchecked URL is a door to our own services (loopback, the private network,
a cloud metadata endpoint) and the delivery log a port scanner. Every address a host name
resolves to is checked at registration and again before each send (a name may resolve
elsewhere by then: DNS rebinding). Plain http and non-public addresses are refused unless the
operator setting `WEBHOOK_ALLOW_PRIVATE_TARGETS` (QUANYI_WEBHOOK_ALLOW_PRIVATE=1) allows them,
as the local demo and the tests do; link-local addresses (metadata services) never are."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.core.errors import DomainError


class TargetNotAllowed(DomainError):
    code = "webhook_url_not_allowed"


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise TargetNotAllowed(f"The host {host!r} does not resolve.") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_target(url: str, allow_private: bool) -> None:
    """Raise TargetNotAllowed unless `url` is an http(s) URL whose host resolves only to
    addresses we may send to."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetNotAllowed("Must be an https URL.")
    if parts.scheme == "http" and not allow_private:
        raise TargetNotAllowed("Must be an https URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetNotAllowed("The port is not a number from 0 to 65535.") from None
    for address in _addresses(parts.hostname, port):
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            raise TargetNotAllowed("The host resolves to an address webhooks are never sent to.")
        if not address.is_global and not allow_private:
            raise TargetNotAllowed("The host resolves to a private or loopback address.")
