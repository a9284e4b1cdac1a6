"""Bulk points grants from a CSV (employers' yearly allowances, banks' campaign points).

Upload: every row is checked before anything moves (columns, amounts, dates, that the member
exists); a file with any bad row is kept as `invalid` with each row's error and grants nothing.
The same file uploaded again (same SHA-256, per partner) is the same batch: it is never
applied twice. A valid file waits for a second staff member above the partner's threshold.
Apply: a job grants every row in one transaction, so a batch is applied whole or not at all;
its progress is counted in Redis (the rows are not visible to others before the commit).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit
from app.core.errors import Conflict
from app.core.queue import enqueue_after_commit
from app.core.tenancy import get_owned, partner_timezone
from app.members import external
from app.members.adjustments import SelfApproval
from app.members.models import Member, PointsGrantBatch
from app.members.service import grant_points

MAX_ROWS = 100_000
MAX_BYTES = 16 * 1024 * 1024
ERRORS_KEPT = 1_000
MAX_AMOUNT = 1_000_000_000
COLUMNS = ("external_id", "amount", "expires_at", "reason")
JOBS = "app.members.jobs"
PROGRESS_EVERY = 1_000


class BatchNotReady(Conflict):
    code = "grant_batch_not_ready"


@dataclass(frozen=True)
class GrantRow:
    line: int
    external_id: str
    amount: int
    expires_at: datetime | None
    reason: str


@dataclass(frozen=True)
class Parsed:
    rows: list[GrantRow]
    errors: list[dict[str, Any]]


def parse(raw: bytes, timezone: str) -> Parsed:
    """Read every row; collect every error (line numbers as a spreadsheet shows them)."""
    errors: list[dict[str, Any]] = []
    if len(raw) > MAX_BYTES:
        return Parsed([], [{"line": None, "message": "the file is larger than 16 MiB"}])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Parsed([], [{"line": None, "message": "the file is not UTF-8 text"}])
    zone = ZoneInfo(timezone)
    rows: list[GrantRow] = []
    for number, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in cells]
        if not any(cells) or (number == 1 and cells[0].lower() == "external_id"):
            continue
        problem, row = _row(number, cells, zone)
        if problem:
            errors.append({"line": number, "message": problem})
        elif row is not None:
            rows.append(row)
    if len(rows) + len(errors) > MAX_ROWS:
        errors.insert(0, {"line": None, "message": f"more than {MAX_ROWS:,} rows: split the file"})
    if not rows and not errors:
        errors.append({"line": None, "message": "the file has no rows"})
    return Parsed(rows, errors)


def _row(number: int, cells: list[str], zone: ZoneInfo) -> tuple[str | None, GrantRow | None]:
    if len(cells) != len(COLUMNS):
        return f"expected {len(COLUMNS)} columns: {','.join(COLUMNS)}", None
    external_id, amount_text, expiry_text, reason = cells
    if not external_id or len(external_id) > 128:
        return "external_id is missing or longer than 128 characters", None
    if not amount_text.isdigit() or not 0 < int(amount_text) <= MAX_AMOUNT:
        return f"amount must be a whole number from 1 to {MAX_AMOUNT:,}", None
    expires_at = None
    if expiry_text:
        try:
            day = date.fromisoformat(expiry_text)
        except ValueError:
            return "expires_at must be a date (YYYY-MM-DD) or empty", None
        expires_at = datetime.combine(day, time(23, 59, 59), zone)
    if not reason or len(reason) > 200:
        return "reason is missing or longer than 200 characters", None
    return None, GrantRow(number, external_id, int(amount_text), expires_at, reason)


def upload(
    session: Session,
    actor: Actor,
    partner_id: str,
    filename: str,
    raw: bytes,
    *,
    timezone: str,
    approval_threshold: int,
    now: datetime,
) -> tuple[PointsGrantBatch, bool]:
    """The batch of this file: (batch, True) when new, (the earlier batch, False) when the same
    file was uploaded before."""
    external.refuse_internal_moves(session, partner_id)
    digest = hashlib.sha256(raw).hexdigest()
    earlier = session.scalars(
        select(PointsGrantBatch).where(
            PointsGrantBatch.partner_id == partner_id, PointsGrantBatch.file_sha256 == digest
        )
    ).first()
    if earlier is not None:
        return earlier, False
    parsed = parse(raw, timezone)
    errors = parsed.errors + _unknown_members(session, partner_id, parsed.rows)
    errors.sort(key=lambda e: e["line"] or 0)
    total = sum(row.amount for row in parsed.rows)
    if errors:
        status = "invalid"
    elif total > approval_threshold:
        status = "awaiting_approval"
    else:
        status = "ready"
    batch = PointsGrantBatch(
        partner_id=partner_id,
        file_sha256=digest,
        filename=filename[:255] or "grants.csv",
        content=raw,
        # the valid rows and the rows that did not parse (an unknown member's row is both a
        # parsed row and an error: counted once)
        row_count=len(parsed.rows) + sum(1 for e in parsed.errors if e["line"]),
        total_points=total,
        status=status,
        errors=errors[:ERRORS_KEPT],
        error_count=len(errors),
        requested_by=actor.id,
        created_at=now,
    )
    session.add(batch)
    _audit(session, actor, batch, "points_grant_batch.uploaded")
    return batch, True


def _unknown_members(
    session: Session, partner_id: str, rows: list[GrantRow]
) -> list[dict[str, Any]]:
    known = _members(session, partner_id, rows, lock=False)
    return [
        {"line": row.line, "message": f"no member {row.external_id!r}"}
        for row in rows
        if row.external_id not in known
    ]


def _members(
    session: Session, partner_id: str, rows: list[GrantRow], *, lock: bool
) -> dict[str, Member]:
    """The rows' members by external id, read a thousand at a time; `lock`: each chunk locked
    in id order and re-read (balances change under the lock)."""
    ids = sorted({row.external_id for row in rows})
    found: dict[str, Member] = {}
    for start in range(0, len(ids), 1_000):
        stmt = select(Member).where(
            Member.partner_id == partner_id, Member.external_id.in_(ids[start : start + 1_000])
        )
        if lock:
            stmt = (
                stmt.order_by(Member.id).with_for_update().execution_options(populate_existing=True)
            )
        found.update((member.external_id, member) for member in session.scalars(stmt))
    return found


def get_batch(
    session: Session, partner_id: str, batch_id: str, for_update: bool = False
) -> PointsGrantBatch:
    return get_owned(
        session,
        PointsGrantBatch,
        partner_id,
        PointsGrantBatch.id == batch_id,
        for_update=for_update,
        label="Grant batch",
    )


def recent_batches(session: Session, partner_id: str, most: int = 50) -> list[PointsGrantBatch]:
    stmt = (
        select(PointsGrantBatch)
        .where(PointsGrantBatch.partner_id == partner_id)
        .order_by(PointsGrantBatch.id.desc())
        .limit(most)
    )
    return list(session.scalars(stmt))


def start(session: Session, actor: Actor, partner_id: str, batch_id: str) -> PointsGrantBatch:
    """Queue a ready batch for applying (or approve one waiting: someone else than its
    uploader). A second click finds it queued and changes nothing."""
    batch = get_batch(session, partner_id, batch_id, for_update=True)
    if batch.status == "awaiting_approval":
        if batch.requested_by == actor.id:
            raise SelfApproval("Another staff member must approve a file you uploaded.")
        batch.approved_by = actor.id
    elif batch.status != "ready":
        raise BatchNotReady(f"This batch is {batch.status}; it cannot be applied now.")
    batch.status = "queued"
    _audit(session, actor, batch, "points_grant_batch.queued")
    enqueue_after_commit(session, f"{JOBS}.apply_grant_batch", batch.id)
    return batch


def reject(session: Session, actor: Actor, partner_id: str, batch_id: str) -> PointsGrantBatch:
    batch = get_batch(session, partner_id, batch_id, for_update=True)
    if batch.status not in ("ready", "awaiting_approval"):
        raise BatchNotReady(f"This batch is {batch.status}.")
    batch.status = "rejected"
    _audit(session, actor, batch, "points_grant_batch.rejected")
    return batch


def progress_key(batch_id: str) -> str:
    return f"grant-progress:{batch_id}"


def apply(session: Session, batch_id: str, conn: redis.Redis, now: datetime) -> bool:
    """Grant every row of a queued batch in this transaction (the caller commits); False when
    there is nothing to do (another run applied it, or it is not queued). Members are locked
    in id order, each once: two batches for the same members cannot deadlock."""
    batch = session.scalars(
        select(PointsGrantBatch).where(PointsGrantBatch.id == batch_id).with_for_update()
    ).first()
    if batch is None or batch.status != "queued":
        return False
    parsed = parse(batch.content, partner_timezone(session, batch.partner_id))
    members = _members(session, batch.partner_id, parsed.rows, lock=True)
    for done, row in enumerate(parsed.rows, start=1):
        grant_points(
            session,
            members[row.external_id],
            row.amount,
            f"{row.reason} (grant batch {batch.id}, line {row.line})",
            row.expires_at,
        )
        if done % PROGRESS_EVERY == 0:
            _report(conn, batch.id, done)
    batch.status, batch.applied_rows, batch.applied_at = "applied", len(parsed.rows), now
    _report(conn, batch.id, len(parsed.rows))
    record_audit(
        session,
        Actor("system", "grant-batch"),
        "points_grant_batch.applied",
        "points_grant_batch",
        batch.id,
        partner_id=batch.partner_id,
        after={"rows": len(parsed.rows), "total_points": batch.total_points},
    )
    return True


def mark_failed(session: Session, batch_id: str, reason: str) -> None:
    batch = session.get(PointsGrantBatch, batch_id, with_for_update=True)
    if batch is not None and batch.status == "queued":
        batch.status, batch.failure = "failed", reason[:500]


def progress(conn: redis.Redis, batch: PointsGrantBatch) -> int:
    """Rows granted so far (while applying: from Redis; after: from the batch)."""
    if batch.status != "queued":
        return batch.applied_rows
    try:
        value = conn.get(progress_key(batch.id))
    except redis.RedisError:
        return 0
    return int(value) if value else 0


def report_csv(batch: PointsGrantBatch, timezone: str) -> str:
    """Each row with what became of it (a BOM for Excel)."""
    out = io.StringIO()
    out.write("\\ufeff")
    writer = csv.writer(out)
    writer.writerow(("line", *COLUMNS, "result"))
    errors = {e["line"]: e["message"] for e in batch.errors if e["line"]}
    result = "granted" if batch.status == "applied" else batch.status
    for row in parse(batch.content, timezone).rows:
        writer.writerow(
            (
                row.line,
                row.external_id,
                row.amount,
                row.expires_at.date().isoformat() if row.expires_at else "",
                row.reason,
                errors.get(row.line, result),
            )
        )
    for line, message in sorted(errors.items()):
        writer.writerow((line, "", "", "", "", message))
    return out.getvalue()


def _report(conn: redis.Redis, batch_id: str, done: int) -> None:
    with contextlib.suppress(redis.RedisError):  # progress is a nicety; the grant goes on
        conn.set(progress_key(batch_id), done, ex=24 * 3600)


def _audit(session: Session, actor: Actor, batch: PointsGrantBatch, action: str) -> None:
    record_audit(
        session,
        actor,
        action,
        "points_grant_batch",
        batch.id,
        partner_id=batch.partner_id,
        after={
            "filename": batch.filename,
            "rows": batch.row_count,
            "total_points": batch.total_points,
            "status": batch.status,
            "errors": batch.error_count,
        },
    )
