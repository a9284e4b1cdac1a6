"""Process-wide extension objects, bound to an app by `create_app`."""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.auth.models import AccessToken
from app.auth.oauth import bearer_token
from app.core.db import Database


def _valid_bearer_token() -> AccessToken | None:
    """The request's token when it is live: a revoked or expired token counts against the
    caller's address, never against the client it once belonged to (else whoever holds an
    old token could spend a partner's limit and lock it out)."""
    token = bearer_token()
    if token is None or token.is_expired() or token.is_revoked():
        return None
    return token


def rate_limit_key() -> str:
    """Per client when the request carries a live bearer token, else per address."""
    token = _valid_bearer_token()
    return f"client:{token.client_id}" if token is not None else f"ip:{get_remote_address()}"


def rate_limit_value() -> str:
    """The client's own limit when the platform set one, else the configured default."""
    token = _valid_bearer_token()
    if token is not None and token.client.rate_limit:
        return token.client.rate_limit
    return str(current_app.config["RATE_LIMIT"])


db = Database()
limiter = Limiter(key_func=rate_limit_key, application_limits=[rate_limit_value])

__all__ = ["db", "limiter"]
