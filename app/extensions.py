"""Process-wide extension objects, bound to an app by `create_app`."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.auth.oauth import bearer_client_id
from app.core.db import Database


def rate_limit_key() -> str:
    """Per client when the request carries a bearer token, else per address."""
    client_id = bearer_client_id()
    return f"client:{client_id}" if client_id else f"ip:{get_remote_address()}"


db = Database()
limiter = Limiter(key_func=rate_limit_key)

__all__ = ["db", "limiter"]
