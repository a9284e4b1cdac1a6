"""Webhook health for the operator console: per endpoint over a window, deliveries that
succeeded, failed for good and are still pending (retrying), and the last success."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.webhooks.models import WebhookDelivery, WebhookEndpoint


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: WebhookEndpoint
    succeeded: int
    failed: int
    pending: int
    last_success_at: datetime | None

    @property
    def success_rate(self) -> float | None:
        settled = self.succeeded + self.failed
        return self.succeeded / settled if settled else None


def endpoint_health(session: Session, since: datetime) -> list[EndpointHealth]:
    """Every live endpoint (the platform's and every partner's), the least healthy first."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for endpoint_id, status, n in session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.created_at >= since)
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
    ):
        counts[endpoint_id][status] = n
    last_success = dict(
        session.execute(
            select(WebhookDelivery.endpoint_id, func.max(WebhookDelivery.updated_at))
            .where(WebhookDelivery.status == "succeeded")
            .group_by(WebhookDelivery.endpoint_id)
        ).all()
    )
    endpoints = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.status != "deleted")
    ).all()
    rows = [
        EndpointHealth(
            e,
            counts[e.id].get("succeeded", 0),
            counts[e.id].get("failed", 0),
            counts[e.id].get("pending", 0),
            last_success.get(e.id),
        )
        for e in endpoints
    ]
    return sorted(
        rows, key=lambda h: (h.success_rate if h.success_rate is not None else 2, -h.pending)
    )
