"""Idempotency-Key for POSTs that create or move value.

Guarantee: for one (scope, key) the effect happens at most once. The first request takes a
transaction-scoped lock on the key (a PostgreSQL advisory lock; on SQLite every write
transaction is already serialized), runs, and stores its response in the same transaction as
its effect. Hence:
- same key + same body after success → the stored response, with `Idempotent-Replayed: true`;
- same key + another body → 422 `idempotency_key_reused`;
- same key while the first still runs → 409 `idempotency_in_progress`;
- a request that failed (4xx/5xx) stored nothing, so the client may retry with the same key.
Keys are scoped per partner (per client for platform calls) and kept at least 24 h.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Response, g, make_response, request
from flask_smorest import Blueprint
from sqlalchemy import (
    JSON,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import Base, PublicIdMixin, utcnow
from app.core.errors import Conflict, DomainError

RETENTION = timedelta(hours=24)
KEY_MAX_LENGTH = 255
REPLAYED_HEADERS = ("Content-Type", "Location")


class IdempotencyKeyRequired(DomainError):
    code = "idempotency_key_required"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


class IdempotencyRecord(PublicIdMixin, Base):
    __tablename__ = "idempotency_keys"
    id_prefix = "idk"

    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(400))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    response_headers: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (UniqueConstraint("scope", "key"),)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Hash of what the request asks for; JSON is canonicalized so key order does not matter."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def _lock_id(scope: str, key: str) -> int:
    digest = hashlib.sha256(f"idempotency:{scope}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# The key's transaction-scoped lock and its record in one statement. The record is read in the
# statement's snapshot, taken just before the lock: a first request that commits in between is
# not seen, and this one then runs, but its own record cannot be stored (the unique key refuses
# it, with nothing of its effect kept) — see run_idempotent. On SQLite, where every write
# transaction is serialized, the lock function is one that always grants it (app/core/db.py).
_LOCK_AND_RECORD = (
    select(
        func.pg_try_advisory_xact_lock(bindparam("lock_id")).label("locked"),
        IdempotencyRecord.request_hash,
        IdempotencyRecord.response_status,
        IdempotencyRecord.response_body,
        IdempotencyRecord.response_headers,
    )
    .select_from(select(literal(1).label("one")).subquery("one"))
    .outerjoin(
        IdempotencyRecord,
        and_(
            IdempotencyRecord.scope == bindparam("scope"),
            IdempotencyRecord.key == bindparam("key"),
        ),
    )
)


def lock_and_find(
    session: Session, scope: str, key: str
) -> tuple[bool, Row[*tuple[Any, ...]] | None]:
    """Take a transaction-scoped lock on (scope, key) and read its recorded answer. The lock is
    False when another transaction holds it."""
    (row,) = session.execute(
        _LOCK_AND_RECORD, {"scope": scope, "key": key, "lock_id": _lock_id(scope, key)}
    ).all()
    return bool(row.locked), row if row.request_hash is not None else None


def _replay(record: Row[*tuple[Any, ...]]) -> Response:
    response = Response(record.response_body, status=record.response_status)
    for name, value in record.response_headers.items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def run_idempotent(
    session: Session, scope: str, key: str | None, view: Callable[[], Response]
) -> Response:
    if not key:
        raise IdempotencyKeyRequired("This request needs an Idempotency-Key header.")
    if len(key) > KEY_MAX_LENGTH:
        raise IdempotencyKeyRequired(f"Idempotency-Key is longer than {KEY_MAX_LENGTH} characters.")
    fingerprint = request_fingerprint(request.method, request.path, request.get_data())
    locked, record = lock_and_find(session, scope, key)
    if not locked:
        raise IdempotencyInProgress("A request with this Idempotency-Key is still running.")
    if record is not None:
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used with a different request body."
            )
        return _replay(record)
    response = view()
    if response.status_code < 400:
        _store(
            session,
            IdempotencyRecord(
                scope=scope,
                key=key,
                request_hash=fingerprint,
                method=request.method,
                path=request.path,
                response_status=response.status_code,
                response_body=response.get_data(as_text=True),
                response_headers={
                    h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers
                },
                expires_at=utcnow() + RETENTION,
            ),
        )
    return response


def _store(session: Session, record: IdempotencyRecord) -> None:
    """Store the answer with its effect. Refused by the unique key when a first request with this
    key committed after this one read (see _LOCK_AND_RECORD): then this one's effect must not
    stay either (the 409 rolls the whole transaction back), and a retry replays."""
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        raise IdempotencyInProgress(
            "A request with this Idempotency-Key has just completed; retry to read its answer."
        ) from None


IDEMPOTENCY_HEADER_DOC = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "schema": {"type": "string", "maxLength": KEY_MAX_LENGTH},
    "description": "Unique per intended effect; a retry with the same key and body replays.",
}


def idempotent(view: Callable[..., Any]) -> Callable[..., Response]:
    """Route decorator (placed above the smorest response/arguments decorators)."""
    from app.extensions import db

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        principal = g.principal  # set by @requires, which wraps this
        scope = principal.partner_id or f"{principal.actor().kind}:{principal.id}"
        return run_idempotent(
            db.session(),
            scope,
            request.headers.get("Idempotency-Key"),
            lambda: _as_response(view(*args, **kwargs)),
        )

    documented: Callable[..., Response] = Blueprint.doc(parameters=[IDEMPOTENCY_HEADER_DOC])(
        wrapper
    )
    return documented


def _as_response(result: Any) -> Response:
    return make_response(result)


def purge_expired(session: Session) -> int:
    """Delete records past their retention; returns how many were removed."""
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
