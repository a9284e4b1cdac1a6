"""Problem+json (RFC 9457) for every error path, and the domain error hierarchy.

Services raise `DomainError` subclasses with a stable `code`; this module is the only place
that turns anything (HTTP errors, validation errors, domain errors, crashes) into a response.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeGuard

import psycopg
from flask import Flask, Response, current_app, g, json, request
from marshmallow import INCLUDE, Schema, fields
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException

from app.core.error_catalog import CATALOG

log = logging.getLogger("quanyi.errors")

# where a problem's `type` points: the served error catalog, at the code's anchor
ERROR_CATALOG_PATH = "/api/v1/docs/errors"
# the statuses that tell a client to come back later (and only they carry Retry-After)
RETRY_AFTER_STATUSES = (429, 503)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class DomainError(Exception):
    """A business rule said no. Subclasses name their `code`; its status and title come from
    the error catalog (a code missing there fails at import). `extra` adds members."""

    code: str = "bad_request"
    status: int = 400
    title: str = "Bad request"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        entry = CATALOG[cls.code]
        cls.status, cls.title = entry.status, entry.title

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra
        self.headers: dict[str, str] = {}


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


# PostgreSQL's text cannot hold U+0000 (SQLite's can): input holding it is refused, on both.
NUL = "\x00"
NUL_MESSAGE = "Must not contain the NUL character (U+0000)."


class ValidationFailed(DomainError):
    """A semantic check on otherwise well-formed input; `errors` maps field → messages."""

    code = "validation_error"

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        super().__init__(detail or "The request has invalid fields.", errors=errors)


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


def problem(
    code: str,
    detail: str | None = None,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The error answer for a catalogued `code` (its status unless `status` is given):
    problem+json, or the HTML page of a web blueprint that registered one
    (`register_html_errors`): a person in a browser reads a page, not JSON."""
    body = problem_body(code, detail, status)
    status = body["status"]
    if _has_request():
        g.error_code = code  # the access log line names it
    render = _html_renderer()
    if render is not None:
        page = render(status, code, body["title"], body["detail"])
        for name, value in (headers or {}).items():
            page.headers[name] = value
        return page
    request_id = g.get("request_id") if _has_request() else None
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_body(code: str, detail: str | None = None, status: int | None = None) -> dict[str, Any]:
    """The RFC 9457 members of a catalogued code's problem (the OpenAPI examples show it too)."""
    entry = CATALOG[code]
    return {
        "type": f"{ERROR_CATALOG_PATH}#{code}",
        "title": entry.title,
        "status": status or entry.status,
        "detail": detail or entry.title,
        "code": code,
    }


# renders (status, code, title, detail) as a page
HtmlErrorRenderer = Callable[[int, str, str, str], Response]


def register_html_errors(app: Flask, blueprint: str, render: HtmlErrorRenderer) -> None:
    """Errors raised under `blueprint` (a web blueprint: the portal, the mall) are pages."""
    app.extensions.setdefault("quanyi_html_errors", {})[blueprint] = render


def _html_renderer() -> HtmlErrorRenderer | None:
    if not _has_request() or request.blueprint is None:
        return None
    renderers: dict[str, HtmlErrorRenderer] = current_app.extensions.get("quanyi_html_errors", {})
    return renderers.get(request.blueprint)


def _has_request() -> bool:
    try:
        return bool(request)
    except RuntimeError:
        return False


def _flatten_webargs(messages: Any) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {...}}); the API speaks of fields only."""
    if isinstance(messages, dict):
        flat: dict[str, Any] = {}
        for location, fields in messages.items():
            if isinstance(fields, dict):
                flat.update(fields)
            else:
                flat[location] = fields
        return flat
    return {"_schema": messages}


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code = HTTP_CODES.get(status, "http_error")
    headers = dict(error.get_headers()) if hasattr(error, "get_headers") else {}
    headers.pop("Content-Type", None)
    data = getattr(error, "data", None) or {}
    if status == 422 and "messages" in data:
        return problem(
            "validation_error",
            "The request has invalid fields.",
            errors=_flatten_webargs(data["messages"]),
            headers=headers,
        )
    if status == 400 and "messages" in data:
        return problem("malformed_json", "The body is not valid JSON.")
    detail = error.description if isinstance(error.description, str) else None
    return problem(code, detail, status=status, headers=headers)


def handle_domain_error(error: DomainError) -> Response:
    return problem(
        error.code, error.detail, status=error.status, headers=error.headers, **error.extra
    )


def is_transient_conflict(error: BaseException) -> bool:
    """A deadlock or serialization failure: PostgreSQL rolled the transaction back, and the
    same request may simply run again."""
    return isinstance(error, DBAPIError) and isinstance(
        error.orig, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
    )


def is_database_down(error: BaseException) -> bool:
    """The database cannot be reached (refused, reset, shutting down): not a fault of the
    request. Connection failures carry no SQLSTATE, or one of class 08 or 57P."""
    if not isinstance(error, DBAPIError):
        return False
    state = getattr(error.orig, "sqlstate", None)
    return error.connection_invalidated or (
        isinstance(error.orig, psycopg.OperationalError)
        and (state is None or state.startswith(("08", "57P")))
    )


class _OncePerInterval:
    """Log an outage once per interval, not once per request (a storm of identical lines)."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.last = seconds, float("-inf")
        self.lock = threading.Lock()

    def due(self) -> bool:
        with self.lock:
            now = time.monotonic()
            if now - self.last < self.seconds:
                return False
            self.last = now
            return True


_DATABASE_DOWN_LOG = _OncePerInterval(30.0)


def is_unique_violation(error: BaseException) -> TypeGuard[IntegrityError]:
    """Two rows would share what must be unique (a name, an offer's product and supplier)."""
    if not isinstance(error, IntegrityError):
        return False
    if isinstance(error.orig, psycopg.errors.UniqueViolation):
        return True
    return "UNIQUE constraint failed" in str(error.orig)  # SQLite


def handle_database_error(error: DBAPIError) -> Response:
    """409 for a unique violation (a service's own check lost a race, or has none); 503 with
    Retry-After for what a retry mends (a lost lock race, the database away); anything else is
    a fault of ours (500)."""
    if is_unique_violation(error):
        return problem("already_exists", "Another record already has these values.")
    if is_transient_conflict(error):
        log.warning("transaction rolled back by the database: %s", type(error.orig).__name__)
        return problem(
            "retry",
            "The request lost a race with another one; nothing was written. Retry it.",
            headers={"Retry-After": "1"},
        )
    if is_database_down(error):
        if _DATABASE_DOWN_LOG.due():
            log.error("database unreachable: %s", type(error.orig).__name__)
        return problem(
            "dependency_down",
            "The database is unreachable; nothing was written. Retry shortly.",
            headers={"Retry-After": "5"},
        )
    return handle_unexpected(error)


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled error")
    return problem("internal_error", "Something went wrong on our side.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)


class ProblemSchema(Schema):
    """How every error looks (RFC 9457), for the OpenAPI document. Open: an error may carry
    members of its own (`current_total`, `reasons`, `lines`, …; the error catalog says which)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(
        required=True, metadata={"description": "the error catalog's entry for `code`"}
    )
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "stable, machine-readable"})
    request_id = fields.String()
    errors = fields.Dict(
        keys=fields.String(), values=fields.Raw(), metadata={"description": "field → messages"}
    )
