"""One signed attempt at a delivery (`Quanyi-Signature: t=<unix>,v1=<hex>`, one `v1` per
active secret during a rotation), its outcome, and retries with exponential backoff for over
24 hours; an endpoint failing for days is disabled, with an audit row."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.core import outbound
from app.core.audit import SYSTEM, record_audit
from app.core.db import inline_count
from app.core.tenancy import is_partner_active
from app.core.vault import Vault
from app.webhooks.endpoints import endpoint_secrets
from app.webhooks.models import Event, WebhookDelivery, WebhookEndpoint
from app.webhooks.outbox import SEND_LEASE, stage_send
from app.webhooks.targets import TargetNotAllowed, check_target

RETRY_WINDOW = timedelta(hours=25)

FIRST_RETRY = timedelta(seconds=10)

MAX_RETRY_GAP = timedelta(hours=4)

DISABLE_AFTER = timedelta(days=3)  # failing without a single success this long: disabled

SEND_TIMEOUT_SECONDS = 5  # short: a slow receiver holds a worker no longer than this

DEFER_BUSY = timedelta(seconds=5)  # the endpoint has an attempt in flight: try again then


USER_AGENT = f"Quanyi-Webhooks/{version('quanyi')}"


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
            "User-Agent": USER_AGENT,
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
        response = outbound.client().post(
            prepared.url, content=prepared.body, headers=prepared.headers, timeout=timeout_seconds
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
        stage_send(session, delivery.id)
    return len(due)
