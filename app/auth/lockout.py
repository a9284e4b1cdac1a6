"""Failed client authentications, counted per client id and per address in Redis: past a
threshold the token endpoint refuses that client id (or address) for the rest of the window
without checking any secret, so a secret cannot be guessed at argon2's pace from many
addresses, nor many ids probed from one. Counted in the shared Redis so every web process
sees the same count; with Redis away the counting is skipped (fail open), never a 500."""

from __future__ import annotations

import logging

import redis

log = logging.getLogger("quanyi.auth")

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_CLIENT = 20
MAX_FAILURES_PER_ADDRESS = 10


def _keys(client_id: str | None, address: str | None) -> list[tuple[str, int]]:
    keys = []
    if client_id:
        keys.append((f"auth-fail:client:{client_id}", MAX_FAILURES_PER_CLIENT))
    if address:
        keys.append((f"auth-fail:ip:{address}", MAX_FAILURES_PER_ADDRESS))
    return keys


def locked_for(conn: redis.Redis, client_id: str | None, address: str | None) -> int | None:
    """Seconds until the client id or the address may try again, or None when neither is
    locked out."""
    try:
        for key, limit in _keys(client_id, address):
            failures = conn.get(key)
            if failures is not None and int(failures) >= limit:
                return max(int(conn.ttl(key)), 1)
    except redis.RedisError:
        log.warning("authentication failures not checked: Redis unavailable")
    return None


def record_failure(conn: redis.Redis, client_id: str | None, address: str | None) -> None:
    """One more failed authentication; the window starts at the first failure."""
    try:
        pipe = conn.pipeline()
        for key, _limit in _keys(client_id, address):
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS, nx=True)
        pipe.execute()
    except redis.RedisError:
        log.warning("authentication failure not counted: Redis unavailable")
