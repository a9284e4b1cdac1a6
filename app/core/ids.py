"""Opaque, prefixed public ids (`ord_…`, `prt_…`).

Ids are time-ordered (48-bit millisecond clock + 80 random bits, Crockford base32, like ULID)
so that ordering by id is ordering by creation: cursor pagination stays stable under inserts
without exposing a sequence number.
"""

from __future__ import annotations

import re
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID_RE = re.compile(r"^[a-z]{2,5}_[0-9a-z]{26}$")

PREFIXES = {
    "partner": "prt",
    "client": "cli",
    "token": "tok",
    "audit": "aud",
    "idempotency": "idk",
}


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return a new id like `ord_01jd3…` (26 base32 chars after the prefix)."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_encode(millis, 10)}{_encode(secrets.randbits(80), 16)}"
