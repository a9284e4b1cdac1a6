"""Events (the outbox) and their signed delivery to webhook endpoints.

An event row is written in the same transaction as the state change it announces. The
dispatcher turns undispatched events into one delivery per matching endpoint; a send job
POSTs it, signed `Quanyi-Signature: t=<unix>,v1=<hex>` (one `v1` per active secret while a
secret is being rotated), and retries with exponential backoff for over 24 hours. An endpoint
that has failed for days is disabled, with an audit row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.core.audit import SYSTEM, Actor, record_audit
from app.core.db import inline_count, utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import Page, paginate
from app.core.queue import enqueue_after_commit
from app.core.tenancy import is_partner_active
from app.core.vault import Vault
from app.webhooks.models import Event, WebhookDelivery, WebhookEndpoint
from app.webhooks.targets import TargetNotAllowed, check_target

RETRY_WINDOW = timedelta(hours=25)
FIRST_RETRY = timedelta(seconds=10)
MAX_RETRY_GAP = timedelta(hours=4)
DISABLE_AFTER = timedelta(days=3)  # failing without a single success this long: disabled
ROTATION_OVERLAP = timedelta(hours=24)
SEND_TIMEOUT_SECONDS = 5  # short: a slow receiver holds a worker no longer than this
SEND_LEASE = timedelta(minutes=5)  # a staged send not done by then was lost: stage it again
DEFER_BUSY = timedelta(seconds=5)  # the endpoint has an attempt in flight: try again then
SECRET_PREFIX = "whsec_"
JOBS = "app.webhooks.jobs"
DISPATCH = "webhooks-dispatch"  # the coalescing name of the dispatch job


def record_event(
    session: Session, type_: str, data: dict[str, Any], partner_id: str | None = None
) -> Event:
    """Stage an event in the caller's transaction; it exists only if that transaction commits,
    and then a dispatch job is enqueued (the periodic dispatch catches any that were missed)."""
    enqueue_after_commit(
        session, f"{JOBS}.dispatch_events", queue="webhooks", retry=None, coalesce=DISPATCH
    )
    event = Event(type=type_, data=data, partner_id=partner_id)
    session.add(event)
    return event


def events_of_type(session: Session, type_: str, partner_id: str | None = None) -> list[Event]:
    stmt = select(Event).where(Event.type == type_).order_by(Event.id)
    if partner_id is not None:
        stmt = stmt.where(Event.partner_id == partner_id)
    return list(session.scalars(stmt))


# --- endpoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: WebhookEndpoint
    secret: str


def _seal(vault: Vault, endpoint_id: str, secret: str) -> tuple[str, bytes]:
    sealed = vault.seal(secret, f"webhook:{endpoint_id}")
    return sealed.key_id, sealed.blob


def endpoint_secrets(vault: Vault, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets to sign with: the current one, and the previous one during a rotation."""
    out = [vault.open(endpoint.secret_key_id, endpoint.secret_blob, f"webhook:{endpoint.id}")]
    if (
        endpoint.previous_secret_blob is not None
        and endpoint.previous_secret_key_id is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        out.append(
            vault.open(
                endpoint.previous_secret_key_id,
                endpoint.previous_secret_blob,
                f"webhook:{endpoint.id}",
            )
        )
    return out


MAX_ENDPOINTS_PER_OWNER = 10


class EndpointLimit(Conflict):
    code, title = "webhook_endpoint_limit", "Too many webhook endpoints"


def create_endpoint(
    session: Session,
    actor: Actor,
    vault: Vault,
    partner_id: str | None,
    url: str,
    event_types: list[str],
    allow_private: bool = False,
) -> IssuedEndpoint:
    """A new endpoint, if its URL is one we may send to (webhooks.targets) and its owner has
    fewer than MAX_ENDPOINTS_PER_OWNER."""
    check_target(url, allow_private)
    kept = session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(_owner(WebhookEndpoint.partner_id, partner_id), WebhookEndpoint.status != "deleted")
    )
    if (kept or 0) >= MAX_ENDPOINTS_PER_OWNER:
        raise EndpointLimit(f"At most {MAX_ENDPOINTS_PER_OWNER} endpoints; delete one first.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        partner_id=partner_id, url=url, event_types=event_types, status="active"
    )
    endpoint.secret_key_id, endpoint.secret_blob = _seal(vault, endpoint.id, secret)
    session.add(endpoint)
    session.flush()
    record_audit(
        session,
        actor,
        "webhook_endpoint.created",
        "webhook_endpoint",
        endpoint.id,
        partner_id=partner_id,
        after={"url": url, "event_types": event_types},
    )
    return IssuedEndpoint(endpoint, secret)


def rotate_endpoint_secret(
    session: Session, actor: Actor, vault: Vault, endpoint: WebhookEndpoint
) -> IssuedEndpoint:
    """A new secret; the old one keeps signing (as a second `v1`) for 24 h."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint.previous_secret_key_id, endpoint.previous_secret_blob = (
        endpoint.secret_key_id,
        endpoint.secret_blob,
    )
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret_key_id, endpoint.secret_blob = _seal(vault, endpoint.id, secret)
    record_audit(
        session,
        actor,
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint",
        endpoint.id,
        partner_id=endpoint.partner_id,
    )
    return IssuedEndpoint(endpoint, secret)


def get_endpoint(session: Session, partner_id: str | None, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            _owner(WebhookEndpoint.partner_id, partner_id),
            WebhookEndpoint.status != "deleted",
        )
    ).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.")
    return endpoint


def _owner(column: Any, partner_id: str | None) -> Any:
    return column.is_(None) if partner_id is None else column == partner_id


def list_endpoints(
    session: Session, partner_id: str | None, limit: int, cursor: str | None
) -> Page[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(
        _owner(WebhookEndpoint.partner_id, partner_id), WebhookEndpoint.status != "deleted"
    )
    return paginate(session, stmt, WebhookEndpoint.id, limit, cursor)


def delete_endpoint(session: Session, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Deleted endpoints receive nothing more; their delivery log stays for the record."""
    endpoint.status = "deleted"
    record_audit(
        session,
        actor,
        "webhook_endpoint.deleted",
        "webhook_endpoint",
        endpoint.id,
        partner_id=endpoint.partner_id,
    )


def list_deliveries(
    session: Session, endpoint: WebhookEndpoint, limit: int, cursor: str | None
) -> Page[WebhookDelivery]:
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    return paginate(session, stmt, WebhookDelivery.id, limit, cursor)


# --- dispatch, send, retry ------------------------------------------------------------------


def _active_endpoints(session: Session, partner_id: str | None) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint).where(
                _owner(WebhookEndpoint.partner_id, partner_id), WebhookEndpoint.status == "active"
            )
        )
    )


def _stage_send(session: Session, delivery_id: str) -> None:
    """One send job for the delivery, enqueued once the transaction commits."""
    enqueue_after_commit(session, f"{JOBS}.send_webhook", delivery_id, queue="webhooks", retry=None)


def _fan_out(
    session: Session, event: Event, endpoints: list[WebhookEndpoint], now: datetime
) -> list[str]:
    """One delivery per endpoint (of the event's owner) that wants the event, due now, leased
    to its send job (enqueued after commit). Returns the delivery ids."""
    ids = []
    for endpoint in endpoints:
        if endpoint.wants(event.type):
            delivery = WebhookDelivery(
                endpoint_id=endpoint.id,
                event_id=event.id,
                partner_id=event.partner_id,
                status="pending",
                next_attempt_at=now,
                lease_until=now + SEND_LEASE,
            )
            session.add(delivery)
            ids.append(delivery.id)
            _stage_send(session, delivery.id)
    return ids


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
        owner: _active_endpoints(session, owner) for owner in {e.partner_id for e in events}
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
        select(Event).where(Event.id == event_id, _owner(Event.partner_id, partner_id))
    ).first()
    if event is None:
        raise NotFound("Event not found.")
    record_audit(session, actor, "event.replayed", "event", event.id, partner_id=partner_id)
    endpoints = _active_endpoints(session, event.partner_id)
    return len(_fan_out(session, event, endpoints, utcnow()))


def signature_header(secrets_: list[str], body: bytes, timestamp: int) -> str:
    signed_payload = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"] + [
        "v1=" + hmac.new(s.encode(), signed_payload, hashlib.sha256).hexdigest() for s in secrets_
    ]
    return ",".join(parts)


def event_body(event: Event) -> bytes:
    return json.dumps(
        {
            "id": event.id,
            "type": event.type,
            "created": int(event.created_at.timestamp()),
            "data": event.data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


@dataclass(frozen=True)
class Prepared:
    delivery_id: str
    url: str
    body: bytes
    headers: dict[str, str]


def prepare_send(
    session: Session, vault: Vault, delivery_id: str, now: datetime
) -> Prepared | None:
    """The request for one attempt, or None when none is to be made now: the delivery is
    final, not yet due (its backoff is honoured whoever asks), or its endpoint already has an
    attempt in flight (deferred a few seconds: one slow receiver holds one worker at most;
    decided under the endpoint's row lock)."""
    delivery = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    ).first()
    if delivery is None or delivery.status != "pending":
        return None
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
        delivery.lease_until = None  # a stray or early job: the sweep offers it when due
        return None
    endpoint = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id == delivery.endpoint_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if endpoint.status != "active":
        return None
    if endpoint.partner_id and not is_partner_active(session, endpoint.partner_id):
        return None  # paused: the retry sweep offers it again once the partner is active
    if endpoint.attempt_until is not None and endpoint.attempt_until > now:
        delivery.next_attempt_at, delivery.lease_until = now + DEFER_BUSY, None
        return None
    endpoint.attempt_until = now + timedelta(seconds=2 * SEND_TIMEOUT_SECONDS)
    event = session.get_one(Event, delivery.event_id)
    body = event_body(event)
    header = signature_header(endpoint_secrets(vault, endpoint, now), body, int(time.time()))
    return Prepared(
        delivery.id,
        endpoint.url,
        body,
        {
            "Content-Type": "application/json",
            "Quanyi-Signature": header,
            "Quanyi-Event-Id": event.id,
            "Quanyi-Event-Type": event.type,
        },
    )


def post(
    prepared: Prepared, allow_private: bool = False, timeout_seconds: float = SEND_TIMEOUT_SECONDS
) -> tuple[int | None, int, str | None]:
    """(status code or None, latency ms, error) — the HTTP call, outside any transaction. The
    target is checked again first (its name may resolve elsewhere now), redirects are never
    followed, and the error is coarse (`timeout`, `unreachable`, `target_not_allowed`): the
    delivery log is shown to partners and must not describe our network."""
    started = time.perf_counter()
    try:
        check_target(prepared.url, allow_private)
        response = httpx.post(
            prepared.url,
            content=prepared.body,
            headers=prepared.headers,
            timeout=timeout_seconds,
            follow_redirects=False,
        )
        return response.status_code, int((time.perf_counter() - started) * 1000), None
    except TargetNotAllowed:
        return None, 0, "target_not_allowed"
    except httpx.TimeoutException:
        return None, int((time.perf_counter() - started) * 1000), "timeout"
    except httpx.HTTPError:
        return None, int((time.perf_counter() - started) * 1000), "unreachable"


def record_attempt(
    session: Session,
    delivery_id: str,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    now: datetime,
) -> None:
    delivery = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    ).first()
    if delivery is None or delivery.status != "pending":
        return
    endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id)
    delivery.lease_until = endpoint.attempt_until = None
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_latency_ms, delivery.last_error = (
        status_code,
        latency_ms,
        error,
    )
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.next_attempt_at = "succeeded", None
        endpoint.failing_since = None
        return
    endpoint.failing_since = endpoint.failing_since or now
    gap = min(FIRST_RETRY * (2 ** (delivery.attempts - 1)), MAX_RETRY_GAP)
    if now + gap > delivery.created_at + RETRY_WINDOW:
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        delivery.next_attempt_at = now + gap
    if endpoint.status == "active" and now - endpoint.failing_since > DISABLE_AFTER:
        endpoint.status, endpoint.disabled_at = "disabled", now
        record_audit(
            session,
            SYSTEM,
            "webhook_endpoint.disabled",
            "webhook_endpoint",
            endpoint.id,
            partner_id=endpoint.partner_id,
            after={"failing_since": endpoint.failing_since.isoformat()},
        )


def retry_due(session: Session, now: datetime) -> int:
    """Stage a send for each delivery whose backoff has elapsed and that has none staged (or
    whose staged send was lost: its lease ran out). One staged send per delivery at most,
    however often this runs."""
    due = session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.status == "pending",
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
        )
        .limit(inline_count(1000))
        .with_for_update(skip_locked=True)
    ).all()
    for delivery in due:
        delivery.lease_until = now + SEND_LEASE
        _stage_send(session, delivery.id)
    return len(due)
