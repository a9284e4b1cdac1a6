"""Opaque, prefixed public ids (`ord_…`, `prt_…`).

Ids are time-ordered (48-bit millisecond clock + 80 random bits, Crockford base32, like ULID)
so that ordering by id is ordering by creation: cursor pagination stays stable under inserts
without exposing a sequence number. Within one process they are also strictly increasing (as
monotonic ULIDs: in the same millisecond the random part is incremented), so rows made one
after the other in a transaction — ledger entries, an invoice's postings — list in that order.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from datetime import UTC, datetime

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


_last = [0, 0]  # millisecond, random part of the last id made here
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """Return a new id like `ord_01jd3…` (26 base32 chars after the prefix)."""
    with _lock:
        millis = max(time.time_ns() // 1_000_000, _last[0])
        if millis == _last[0] and _last[1] < (1 << 80) - (1 << 40):
            randomness = _last[1] + 1 + secrets.randbits(16)
        else:
            randomness = secrets.randbits(79)
        _last[0], _last[1] = millis, randomness
    return f"{prefix}_{_encode(millis, 10)}{_encode(randomness, 16)}"


def created_at_of(public_id: str) -> datetime:
    """When the id was made (its clock part), to the millisecond."""
    millis = 0
    for char in public_id.partition("_")[2][:10]:
        millis = millis * 32 + _ALPHABET.index(char)
    return datetime.fromtimestamp(millis / 1000, UTC)


def id_floor(prefix: str, moment: datetime) -> str:
    """The smallest id `new_id(prefix)` could make at `moment`: with an index on (…, id), rows
    made from `moment` on are `id >= id_floor(prefix, moment)` (ids are time-ordered)."""
    millis = int(moment.timestamp() * 1000)
    return f"{prefix}_{_encode(millis, 10)}{'0' * 16}"
