"""Request-edge helpers shared by every route: the acting client, body media types, and the
one transaction per request (committed when the answer is a success, rolled back otherwise)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request

from app.core.audit import Actor
from app.core.errors import UnsupportedMediaType, handle_domain_error, problem

log = logging.getLogger("quanyi.http")

BODY_METHODS = {"POST", "PUT", "PATCH"}


def request_actor() -> Actor:
    return Actor(
        "client",
        g.get("client_id") or "anonymous",
        ip=request.remote_addr,
        request_id=g.get("request_id"),
    )


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


def init_request_transaction(app: Flask, session_factory: Callable[[], Any]) -> None:
    app.before_request(_check_media_type)

    @app.after_request
    def _finish_transaction(response: Response) -> Response:
        session = session_factory()
        if response.status_code >= 400:
            session.rollback()
            return response
        try:
            session.commit()
        except Exception:
            session.rollback()
            log.exception("commit failed")
            return problem(
                503,
                "transaction_failed",
                "Try again",
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
