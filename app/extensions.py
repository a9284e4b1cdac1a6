"""Process-wide extension objects, bound to an app by `create_app`."""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.auth.oauth import bearer_token
from app.core.db import Database


def rate_limit_key() -> str:
    """Per client when the request carries a bearer token, else per address."""
    token = bearer_token()
    return f"client:{token.client_id}" if token is not None else f"ip:{get_remote_address()}"


def rate_limit_value() -> str:
    """The client's own limit when the platform set one, else the configured default."""
    token = bearer_token()
    if token is not None and token.client.rate_limit:
        return token.client.rate_limit
    return str(current_app.config["RATE_LIMIT"])


db = Database()
limiter = Limiter(key_func=rate_limit_key, application_limits=[rate_limit_value])

__all__ = ["db", "limiter"]
