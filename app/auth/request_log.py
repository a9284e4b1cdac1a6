"""The API request log partners read in the portal: their clients' requests of the last 7 days
— when, which client, method, path, status, error code, latency. Never a body, a query string
or a header: nothing in it is a secret or a member's data beyond the ids in paths.

One Redis stream per partner: XADD per request, capped at MAX_ENTRIES (a partner sending more
than that in 7 days sees its latest MAX_ENTRIES requests), read newest first with XREVRANGE
from 7 days ago. A request log is for looking, not for accounting:
when Redis is down the request goes on and the line is simply missing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask, Response, current_app, g, request

from app.core.queue import redis_connection

log = logging.getLogger(__name__)

RETENTION_MS = 7 * 24 * 3600 * 1000
MAX_ENTRIES = 200_000  # per partner; at a steady 1 request/s, 7 days is 604,800: sampled by cap
MAX_SCANNED = 20_000  # entries a filtered page reads at most


@dataclass(frozen=True)
class LoggedRequest:
    id: str
    at: datetime
    client_id: str
    method: str
    path: str
    status: int
    code: str
    duration_ms: float
    request_id: str


def _key(app: Flask, partner_id: str) -> str:
    return f"{app.config.get('QUEUE_PREFIX', '')}quanyi:api-log:{partner_id}"


def _record(response: Response) -> Response:
    principal = g.get("principal")
    if principal is None or principal.kind != "api_client" or not principal.partner_id:
        return response
    started = g.get("request_started")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        redis_connection(app).xadd(
            _key(app, principal.partner_id),
            {
                "client_id": principal.id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "code": g.get("error_code") or "",
                "ms": round((time.perf_counter() - started) * 1000, 2) if started else 0,
                "request_id": g.get("request_id") or "",
            },
            maxlen=MAX_ENTRIES,
            approximate=True,
        )
    except redis.RedisError:
        log.warning("the API request log is unavailable")
    return response


def init_request_log(app: Flask) -> None:
    app.after_request(_record)


def recent(
    app: Flask,
    partner_id: str,
    limit: int,
    before: str | None = None,
    errors_only: bool = False,
    client_id: str | None = None,
) -> tuple[list[LoggedRequest], str | None]:
    """A page of the partner's requests, newest first, and the cursor of the next page (an
    entry id). Filters read at most MAX_SCANNED entries per page."""
    conn = redis_connection(app)
    oldest = f"{int(time.time() * 1000) - RETENTION_MS}-0"
    newest = f"({before}" if before else "+"
    found: list[LoggedRequest] = []
    scanned = 0
    while len(found) < limit and scanned < MAX_SCANNED:
        batch = conn.xrevrange(_key(app, partner_id), newest, oldest, count=max(limit, 500))
        if not batch:
            return found, None
        for entry_id, fields in batch:
            scanned += 1
            entry = _entry(entry_id, fields)
            newest = f"({entry.id}"
            if (errors_only and entry.status < 400) or (client_id and entry.client_id != client_id):
                continue
            found.append(entry)
            if len(found) == limit:
                return found, entry.id
    return found, newest[1:] if scanned >= MAX_SCANNED else None


def _entry(entry_id: Any, fields: Any) -> LoggedRequest:
    """One stream entry (bytes from Redis) as a row."""
    text = {k.decode(): v.decode() for k, v in fields.items()}
    stream_id = entry_id.decode()
    return LoggedRequest(
        id=stream_id,
        at=datetime.fromtimestamp(int(stream_id.split("-")[0]) / 1000, UTC),
        client_id=text["client_id"],
        method=text["method"],
        path=text["path"],
        status=int(text["status"]),
        code=text["code"],
        duration_ms=float(text["ms"]),
        request_id=text["request_id"],
    )
