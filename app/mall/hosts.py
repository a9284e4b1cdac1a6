"""Partners' own host names for their malls. A request whose Host is a partner's `mall_host`
is that partner's mall: its path is served as /m/<slug>/<path> (the mall's links already carry
/m/<slug>/, and pass through). With QUANYI_HOSTS set (the platform's own host names), a Host
that is neither one of them nor a partner's is refused with 404.

The Host → partner map is read from the database and kept 30 seconds, so a host set by an
operator works within half a minute, without a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.partners.models import Partner

REFRESH_SECONDS = 30.0
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PartnerHosts:
    """host name → partner slug, for live partners with a mall host. Read through the
    thread's session (its transaction ended at once), as the request after it will be."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self.sessions = sessions
        self._slugs: dict[str, str] = {}
        self._read_at = 0.0
        self._lock = threading.Lock()

    def slug_for(self, host: str) -> str | None:
        with self._lock:
            if time.monotonic() - self._read_at > REFRESH_SECONDS:
                session = self.sessions()
                rows = session.execute(
                    select(Partner.mall_host, Partner.slug).where(
                        Partner.mall_host.is_not(None), Partner.status == "active"
                    )
                ).all()
                session.commit()
                self._slugs = {str(h): str(s) for h, s in rows}
                self._read_at = time.monotonic()
            return self._slugs.get(host)


def _not_found(start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = b'{"type":"about:blank","title":"Not found","status":404,"code":"not_found"}'
    start_response(
        "404 NOT FOUND",
        [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def partner_host_middleware(
    wsgi_app: WsgiApp, hosts: PartnerHosts, platform_hosts: frozenset[str]
) -> WsgiApp:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = str(environ.get("HTTP_HOST", "")).split(":", 1)[0].lower()
        if host in platform_hosts:
            return wsgi_app(environ, start_response)
        slug = hosts.slug_for(host)
        if slug is None:
            if platform_hosts:
                return _not_found(start_response)
            return wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "") or "/"
        own = f"/m/{slug}"
        if path.startswith("/m/") and not (path == own or path.startswith(own + "/")):
            return _not_found(start_response)  # a partner's host serves its own mall only
        if not path.startswith(("/m/", "/static/")):
            environ["PATH_INFO"] = own + path
        return wsgi_app(environ, start_response)

    return serve
