"""Asking for exports, building them, serving them, and the schedules that ask every day or
week. A build streams the rows into a gzip-compressed CSV (UTF-8 with a BOM, so Excel opens
Chinese text correctly) kept 7 days."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, undefer

from app.core.audit import Actor, record_audit
from app.core.errors import NotFound, ValidationFailed
from app.core.mail import clean_recipients, queue_mail
from app.core.pagination import Page, paginate
from app.core.queue import enqueue_after_commit
from app.core.tenancy import get_owned, partner_timezone, scoped
from app.core.vault import Vault
from app.exports.models import EXPORT_KINDS, FREQUENCIES, Export, ExportSchedule
from app.exports.sources import SOURCES, rows

KEPT_FOR = timedelta(days=7)
MAX_RANGE_DAYS = 366
REQUEUE_AFTER = timedelta(minutes=10)  # a queued export whose job was lost is asked again
CHUNK = 64 * 1024


def request_export(
    session: Session,
    actor: Actor,
    partner_id: str,
    kind: str,
    date_from: date | None,
    date_to: date | None,
    schedule_id: str | None = None,
) -> Export:
    """Queue an export of the partner-local days [date_from, date_to] (members: all of them,
    dates ignored); its job runs after this transaction commits."""
    if kind not in EXPORT_KINDS:
        raise ValidationFailed({"kind": [f"One of {', '.join(EXPORT_KINDS)}."]})
    if kind == "members":
        date_from = date_to = None
    elif date_from is None or date_to is None:
        raise ValidationFailed({"date_from": ["Give the first and the last day."]})
    elif date_to < date_from or (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise ValidationFailed({"date_to": [f"From 1 to {MAX_RANGE_DAYS} days after date_from."]})
    export = Export(
        partner_id=partner_id,
        kind=kind,
        date_from=date_from,
        date_to=date_to,
        requested_by=f"{actor.kind}:{actor.id}",
        schedule_id=schedule_id,
    )
    session.add(export)
    session.flush()
    record_audit(
        session,
        actor,
        "export.requested",
        "export",
        export.id,
        partner_id=partner_id,
        after={"kind": kind, "from": str(date_from), "to": str(date_to)},
    )
    enqueue_after_commit(session, "app.exports.jobs.build_export", export.id)
    return export


def build(session: Session, vault: Vault, export_id: str, link_base: str, now: datetime) -> None:
    """Write the export's CSV; for a scheduled one, mail its link to the schedule's
    recipients. Building again (a requeued job) rewrites the same file."""
    export = session.scalars(select(Export).where(Export.id == export_id).with_for_update()).first()
    if export is None or export.status != "queued":
        return
    timezone = partner_timezone(session, export.partner_id)
    start, end = _utc_bounds(export.date_from, export.date_to, timezone)
    raw = io.BytesIO()
    count = 0
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        text = io.TextIOWrapper(packed, encoding="utf-8-sig", newline="")
        writer = csv.writer(text)
        writer.writerow(SOURCES[export.kind].header)
        for row in rows(session, export.kind, export.partner_id, timezone, start, end):
            writer.writerow(row)
            count += 1
        text.flush()
        size = packed.tell()  # uncompressed bytes written
        text.detach()
    export.content = raw.getvalue()
    export.rows, export.size_bytes = count, size
    export.status, export.finished_at, export.expires_at = "ready", now, now + KEPT_FOR
    if export.schedule_id:
        _mail_link(session, vault, export, link_base)


def mark_failed(session: Session, export_id: str, error: str) -> None:
    session.execute(
        update(Export)
        .where(Export.id == export_id, Export.status == "queued")
        .values(status="failed", error=error[:500])
    )


def _utc_bounds(
    first: date | None, last: date | None, timezone: str
) -> tuple[datetime | None, datetime | None]:
    if first is None or last is None:
        return None, None
    zone = ZoneInfo(timezone)
    return (
        datetime.combine(first, time(), zone),
        datetime.combine(last + timedelta(days=1), time(), zone),
    )


def _mail_link(session: Session, vault: Vault, export: Export, link_base: str) -> None:
    schedule = session.get_one(ExportSchedule, export.schedule_id)
    link = f"{link_base}/{export.id}/download"
    for address in schedule.recipients:
        queue_mail(
            session,
            vault,
            address,
            f"[Quanyi] {export.filename}",
            f"导出文件已生成（{export.rows} 行），7 天内登录管理后台下载：\n{link}\n\n"
            f"Your {schedule.frequency} {export.kind} export is ready ({export.rows} rows)."
            f" Sign in to the admin portal within 7 days to download it:\n{link}\n",
        )


def list_exports(session: Session, partner_id: str, limit: int, cursor: str | None) -> Page[Export]:
    return paginate(session, scoped(Export, partner_id), Export.id, limit, cursor)


def open_ready(session: Session, partner_id: str, export_id: str) -> tuple[Export, bytes]:
    """A ready export and its compressed content; anything else is not found."""
    export = session.scalars(
        scoped(Export, partner_id)
        .where(Export.id == export_id, Export.status == "ready")
        .options(undefer(Export.content))
    ).first()
    if export is None or export.content is None:
        raise NotFound("Export not found (or no longer kept).")
    return export, export.content


def csv_chunks(content: bytes) -> Iterator[bytes]:
    """The CSV, decompressed as it is sent."""
    with gzip.GzipFile(fileobj=io.BytesIO(content)) as unpacked:
        while chunk := unpacked.read(CHUNK):
            yield chunk


def create_schedule(
    session: Session,
    actor: Actor,
    partner_id: str,
    kind: str,
    frequency: str,
    recipients: list[str],
) -> ExportSchedule:
    if kind not in EXPORT_KINDS:
        raise ValidationFailed({"kind": [f"One of {', '.join(EXPORT_KINDS)}."]})
    if frequency not in FREQUENCIES:
        raise ValidationFailed({"frequency": [f"One of {', '.join(FREQUENCIES)}."]})
    cleaned = clean_recipients(recipients, required=True)
    schedule = ExportSchedule(
        partner_id=partner_id,
        kind=kind,
        frequency=frequency,
        recipients=cleaned,
        created_by=f"{actor.kind}:{actor.id}",
    )
    session.add(schedule)
    session.flush()
    record_audit(
        session,
        actor,
        "export_schedule.created",
        "export_schedule",
        schedule.id,
        partner_id=partner_id,
        after={"kind": kind, "frequency": frequency, "recipients": cleaned},
    )
    return schedule


def cancel_schedule(
    session: Session, actor: Actor, partner_id: str, schedule_id: str
) -> ExportSchedule:
    schedule = get_owned(
        session, ExportSchedule, partner_id, ExportSchedule.id == schedule_id, label="Schedule"
    )
    if schedule.status == "active":
        schedule.status = "cancelled"
        record_audit(
            session,
            actor,
            "export_schedule.cancelled",
            "export_schedule",
            schedule.id,
            partner_id=partner_id,
            before={"status": "active"},
            after={"status": "cancelled"},
        )
    return schedule


def list_schedules(session: Session, partner_id: str) -> list[ExportSchedule]:
    return list(
        session.scalars(
            scoped(ExportSchedule, partner_id)
            .where(ExportSchedule.status == "active")
            .order_by(ExportSchedule.id)
        )
    )


def due_period(schedule: ExportSchedule, today: date) -> tuple[date, date] | None:
    """The period a schedule should export on the partner-local `today`: yesterday (daily) or
    last Monday–Sunday (weekly, from Monday on), unless exported already."""
    if schedule.frequency == "daily":
        first = last = today - timedelta(days=1)
    else:
        last = today - timedelta(days=today.weekday() + 1)  # the Sunday before this week
        first = last - timedelta(days=6)
    if schedule.last_period_to is not None and schedule.last_period_to >= last:
        return None
    return first, last


def run_schedules(session: Session, now: datetime) -> int:
    """Queue every due scheduled export (each period once: the schedule rows are locked and
    skipped by a concurrent run), ask again for queued exports whose job was lost, and drop
    the content of expired ones. Returns how many exports were queued."""
    queued = 0
    schedules = session.scalars(
        select(ExportSchedule)
        .where(ExportSchedule.status == "active")
        .with_for_update(skip_locked=True)
    ).all()
    system = Actor("system", "export-schedule")
    for schedule in schedules:
        today = now.astimezone(ZoneInfo(partner_timezone(session, schedule.partner_id))).date()
        period = due_period(schedule, today)
        if period is None:
            continue
        request_export(session, system, schedule.partner_id, schedule.kind, *period, schedule.id)
        schedule.last_period_to = period[1]
        queued += 1
    for export_id in session.scalars(
        select(Export.id).where(Export.status == "queued", Export.created_at < now - REQUEUE_AFTER)
    ):
        enqueue_after_commit(session, "app.exports.jobs.build_export", export_id)
    session.execute(
        update(Export)
        .where(Export.status == "ready", Export.expires_at < now)
        .values(status="expired", content=None)
    )
    return queued
