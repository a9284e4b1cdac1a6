"""Recording events into the outbox (delivery to webhook endpoints is its own module's job)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.webhooks.models import Event


def record_event(
    session: Session, type_: str, data: dict[str, Any], partner_id: str | None = None
) -> Event:
    """Stage an event in the caller's transaction; it exists only if that transaction commits."""
    event = Event(type=type_, data=data, partner_id=partner_id)
    session.add(event)
    return event


def events_of_type(session: Session, type_: str, partner_id: str | None = None) -> list[Event]:
    stmt = select(Event).where(Event.type == type_).order_by(Event.id)
    if partner_id is not None:
        stmt = stmt.where(Event.partner_id == partner_id)
    return list(session.scalars(stmt))
