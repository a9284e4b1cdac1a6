"""The event outbox: an event is written in the transaction of the change it announces; the
dispatcher fans it out into one delivery per matching endpoint, each sent by a job of its own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit
from app.core.db import inline_count, utcnow
from app.core.errors import NotFound
from app.core.queue import enqueue_after_commit
from app.webhooks.endpoints import owned_by
from app.webhooks.models import Event, WebhookDelivery, WebhookEndpoint
from app.webhooks.payloads import PING

SEND_LEASE = timedelta(minutes=5)  # a staged send not done by then was lost: stage it again

JOBS = "app.webhooks.jobs"

DISPATCH = "webhooks-dispatch"  # the coalescing name of the dispatch job


def record_event(
    session: Session,
    type_: str,
    data: dict[str, Any],
    partner_id: str | None = None,
    order_id: str | None = None,
) -> Event:
    """Stage an event in the caller's transaction; it exists only if that transaction commits,
    and then a dispatch job is enqueued (the periodic dispatch catches any that were missed).
    `order_id` names the order the event is about (the order page lists them)."""
    enqueue_after_commit(
        session, f"{JOBS}.dispatch_events", queue="webhooks", retry=None, coalesce=DISPATCH
    )
    event = Event(type=type_, data=data, partner_id=partner_id, order_id=order_id)
    session.add(event)
    return event


def events_of_order(
    session: Session, partner_id: str, order_id: str
) -> list[tuple[Event, list[WebhookDelivery]]]:
    """The events about one order, oldest first, each with its deliveries to endpoints."""
    events = list(
        session.scalars(
            select(Event)
            .where(Event.order_id == order_id, Event.partner_id == partner_id)
            .order_by(Event.id)
        )
    )
    sent: dict[str, list[WebhookDelivery]] = {event.id: [] for event in events}
    for delivery in session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.event_id.in_(list(sent)))
        .order_by(WebhookDelivery.id)
    ):
        sent[delivery.event_id].append(delivery)
    return [(event, sent[event.id]) for event in events]


def events_of_type(session: Session, type_: str, partner_id: str | None = None) -> list[Event]:
    stmt = select(Event).where(Event.type == type_).order_by(Event.id)
    if partner_id is not None:
        stmt = stmt.where(Event.partner_id == partner_id)
    return list(session.scalars(stmt))


def active_endpoints(session: Session, partner_id: str | None) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint).where(
                owned_by(WebhookEndpoint.partner_id, partner_id), WebhookEndpoint.status == "active"
            )
        )
    )


def stage_send(session: Session, delivery_id: str) -> None:
    """One send job for the delivery, enqueued once the transaction commits."""
    enqueue_after_commit(session, f"{JOBS}.send_webhook", delivery_id, queue="webhooks", retry=None)


def _fan_out(
    session: Session, event: Event, endpoints: list[WebhookEndpoint], now: datetime
) -> list[str]:
    """One delivery per endpoint (of the event's owner) that wants the event, due now, leased
    to its send job (enqueued after commit). Returns the delivery ids."""
    return [
        _deliver(session, event, endpoint, now).id
        for endpoint in endpoints
        if endpoint.wants(event.type)
    ]


def _deliver(
    session: Session, event: Event, endpoint: WebhookEndpoint, now: datetime
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id=event.id,
        partner_id=event.partner_id,
        status="pending",
        next_attempt_at=now,
        lease_until=now + SEND_LEASE,
    )
    session.add(delivery)
    stage_send(session, delivery.id)
    return delivery


def send_test(session: Session, actor: Actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A signed `ping` event to this endpoint alone, whatever types it subscribed to: the
    integrator checks reachability and signature verification before real events flow."""
    now = utcnow()
    event = Event(
        type=PING,
        data={"endpoint_id": endpoint.id},
        partner_id=endpoint.partner_id,
        dispatched_at=now,  # never fanned out to the partner's other endpoints
    )
    session.add(event)
    record_audit(
        session,
        actor,
        "webhook_endpoint.tested",
        "webhook_endpoint",
        endpoint.id,
        partner_id=endpoint.partner_id,
    )
    delivery = _deliver(session, event, endpoint, now)
    session.flush()  # the answer shows the row as stored (attempts, created_at)
    return delivery


def dispatch_events(session: Session, now: datetime, limit: int = 500) -> int:
    """Fan undispatched events out to their endpoints: one send job per delivery, never a
    send here, so one partner's slow receiver holds one worker for one short attempt and
    nobody else (each endpoint has one attempt in flight at most: `prepare_send`). SKIP
    LOCKED: dispatchers in parallel take disjoint events; each event is dispatched once.
    Returns how many events were dispatched."""
    events = session.scalars(
        select(Event)
        .where(Event.dispatched_at.is_(None))
        .order_by(Event.id)
        .limit(inline_count(limit))
        .with_for_update(skip_locked=True)
    ).all()
    if not events:
        return 0
    endpoints = {
        owner: active_endpoints(session, owner) for owner in {e.partner_id for e in events}
    }
    for event in events:
        _fan_out(session, event, endpoints[event.partner_id], now)
    session.execute(
        update(Event)
        .where(Event.id.in_([e.id for e in events]))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(events)


def replay_event(session: Session, actor: Actor, partner_id: str | None, event_id: str) -> int:
    event = session.scalars(
        select(Event).where(Event.id == event_id, owned_by(Event.partner_id, partner_id))
    ).first()
    if event is None:
        raise NotFound("Event not found.")
    record_audit(session, actor, "event.replayed", "event", event.id, partner_id=partner_id)
    endpoints = active_endpoints(session, event.partner_id)
    return len(_fan_out(session, event, endpoints, utcnow()))
