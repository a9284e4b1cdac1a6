"""JSON structured logs carrying the request id, and `X-Request-Id` on every response.

Log records never include request bodies: card codes and secrets travel in bodies.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, g, has_request_context, request
from rq import get_current_job

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_configured = False


class RequestContextFilter(logging.Filter):
    """Every line says what it belongs to: the request's id, or the background job's (an
    outgoing supplier or webhook call is found from either)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = g.get("request_id") if has_request_context() else None
        if getattr(record, "request_id", None) is None and not hasattr(record, "job_id"):
            job = get_current_job()
            if job is not None:
                record.job_id = job.id
        return True


def note(**ids: str | None) -> None:
    """Ids the request's access log line should carry (a created order's, the client that
    tried to authenticate) besides those in its path."""
    if has_request_context():
        g.setdefault("log_ids", {}).update({k: v for k, v in ids.items() if v})


class JsonFormatter(logging.Formatter):
    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
        "message",
        "asctime",
        "request_id",
    }

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def redact_url(url: object) -> str:
    """scheme://host[:port]/path of a URL: its userinfo and query may hold secrets (a webhook
    endpoint's token), and a log line is no place for them."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RedactUrls(logging.Filter):
    """Installed on the outgoing-HTTP loggers (httpx, httpcore): every URL among a record's
    arguments is logged redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if "://" in str(arg) else arg for arg in record.args
            )
        return True


def configure_logging(level: str = "INFO") -> None:
    """Install the JSON handler on the root logger once per process."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("werkzeug", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for outgoing in ("httpx", "httpcore"):
        logging.getLogger(outgoing).addFilter(RedactUrls())
    _configured = True


def init_request_ids(app: Flask) -> None:
    access = logging.getLogger("quanyi.access")

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        started = g.get("request_started")
        access.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "code": g.get("error_code"),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started
                else None,
                "principal": principal.id if (principal := g.get("principal")) else None,
                **{k: v for k, v in (request.view_args or {}).items() if k.endswith("_id")},
                **g.get("log_ids", {}),
            },
        )
        return response
