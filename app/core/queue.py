"""The app's Redis connection (shared by readiness checks, rate limits and, later, RQ queues).

Production sets `REDIS_URL`; embedded mode has no Redis and runs background work in-process.
"""

from __future__ import annotations

import redis
from flask import Flask


def redis_connection(app: Flask) -> redis.Redis:
    conn = app.extensions.get("quanyi_redis")
    if conn is None:
        conn = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )
        app.extensions["quanyi_redis"] = conn
    return conn
