"""Request-edge helpers shared by every route: the acting client, body media types, and the
one transaction per request (committed when the answer is a success, rolled back otherwise)."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import DBAPIError

from app.core.audit import Actor
from app.core.errors import (
    NUL,
    NUL_MESSAGE,
    RETRY_AFTER_STATUSES,
    UnsupportedMediaType,
    ValidationFailed,
    handle_database_error,
    handle_domain_error,
    is_transient_conflict,
    is_unique_violation,
    problem,
)

log = logging.getLogger("quanyi.http")

BODY_METHODS = {"POST", "PUT", "PATCH"}
REPEATABLE_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


def request_actor() -> Actor:
    """The actor of this request's audit rows: its principal (anonymous before sign-in)."""
    principal = g.get("principal")
    if principal is not None:
        actor: Actor = principal.actor()
        return actor
    return Actor("client", "anonymous", ip=request.remote_addr, request_id=g.get("request_id"))


def accepts_multipart(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a route whose body is multipart/form-data (file uploads) instead of JSON."""
    view.accepts_multipart = True  # type: ignore[attr-defined]
    return view


def _check_media_type() -> Response | None:
    """415 for an API body that is not JSON (or multipart where a route accepts uploads)."""
    if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
        return None
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if not has_body:
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "accepts_multipart", False):
        if request.mimetype == "multipart/form-data":
            return None
        expected = "multipart/form-data"
    else:
        if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
            return None
        expected = "application/json"
    return handle_domain_error(UnsupportedMediaType(f"Send the body as {expected}."))


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _reject_nul_characters() -> Response | None:
    """422 for a NUL character in anything a request hands to a query: the path, the query
    string, the Idempotency-Key, HTTP Basic's client id, a JSON or form body. PostgreSQL's text
    cannot hold one (the statement would fail: a 500) where SQLite would store it, so it is
    refused before anything reads it, the same on both. A JSON body is parsed for this only
    when its bytes hold the escape `\\u0000`."""
    basic = request.authorization
    parts = {
        "path": NUL in request.path,
        "query": b"%00" in request.query_string,
        "Idempotency-Key": NUL in request.headers.get("Idempotency-Key", ""),
        "Authorization": basic is not None and NUL in (basic.username or ""),
        "body": (
            request.is_json
            and b"\\u0000" in request.get_data(cache=True)
            and _holds_nul(request.get_json(silent=True))
        )
        or (
            request.mimetype == "application/x-www-form-urlencoded"
            and _holds_nul(request.form.to_dict(flat=False))
        ),
    }
    errors = {part: [NUL_MESSAGE] for part, holds in parts.items() if holds}
    return handle_domain_error(ValidationFailed(errors)) if errors else None


def _may_run_twice() -> bool:
    """Idempotent by method, or a POST carrying an Idempotency-Key."""
    return request.method in REPEATABLE_METHODS or bool(request.headers.get("Idempotency-Key"))


def _retry_transient_conflicts(app: Flask, session_factory: Callable[[], Any]) -> None:
    """A deadlock or serialization failure rolled the request's transaction back: run an
    idempotent request once more before answering 503 `retry` (the lock order makes this
    rare; a client should not see the race it lost)."""
    dispatch = app.dispatch_request

    def dispatch_with_one_retry() -> Any:
        try:
            return dispatch()
        except DBAPIError as error:
            if not is_transient_conflict(error) or not _may_run_twice():
                raise
            session_factory().rollback()
            log.warning("transaction rolled back by the database; running the request again")
            return dispatch()

    app.dispatch_request = dispatch_with_one_retry  # type: ignore[method-assign]


MAX_JSON_DEPTH = 32
# a JSON string (with its escapes) or a bracket: brackets inside strings do not nest
_JSON_NESTING = re.compile(rb'"(?:\\.|[^"\\])*"|[\[\]{}]')


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether `body` nests arrays and objects deeper than `limit`, found without parsing it
    (Python's parser, and every later json.loads of the body, would recurse until a
    RecursionError: a 500). A body with no more brackets than `limit` cannot."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for token in _JSON_NESTING.finditer(body):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in (b"]", b"}"):
            depth -= 1
    return False


def _refuse_deep_json() -> Response | None:
    if not request.is_json or not json_depth_exceeds(request.get_data(cache=True), MAX_JSON_DEPTH):
        return None
    return problem(
        "json_too_deep",
        f"Arrays and objects may nest at most {MAX_JSON_DEPTH} levels.",
    )


def init_request_transaction(app: Flask, session_factory: Callable[[], Any]) -> None:
    app.before_request(_check_media_type)
    app.before_request(_refuse_deep_json)
    app.before_request(_reject_nul_characters)
    _retry_transient_conflicts(app, session_factory)

    @app.after_request
    def _finish_transaction(response: Response) -> Response:
        session = session_factory()
        if response.status_code >= 400:
            session.rollback()
            return response
        try:
            session.commit()
        except Exception as error:
            session.rollback()
            if is_unique_violation(error):  # a constraint checked at commit (the last flush)
                return handle_database_error(error)
            log.exception("commit failed")
            return problem(
                "transaction_failed",
                "The change could not be saved; nothing was written. Retry the request.",
            )
        return response


def max_body_bytes(limit: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Raise the 1 MiB body limit for one route (file uploads); place it above the arguments."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request.max_content_length = limit
            return view(*args, **kwargs)

        return wrapper

    return decorator


def retry_after_only_when_retrying(response: Response) -> Response:
    """Flask-Limiter puts `Retry-After` on every answer; a client that honours it would wait a
    minute after a success. It belongs to a 429 or a 503 only."""
    if response.status_code not in RETRY_AFTER_STATUSES:
        response.headers.pop("Retry-After", None)
    return response
