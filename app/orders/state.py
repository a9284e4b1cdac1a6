"""The order state machine: every status change goes through `transition`.

    (new) ──► processing ──► fulfilled | partially_fulfilled | failed
      │            │
      │            └──► cancelled | partially_refunded ──► fulfilled | partially_fulfilled | failed
      └──► fulfilled   (card keys only: delivered in the order's own transaction)

    fulfilled | partially_fulfilled | partially_refunded ──► refunded   (after-sales)

`processing`: some unit waits for a supplier. `partially_refunded`: some units were cancelled
(refunded) while others still wait or were delivered; cancelling again keeps it there.
`cancelled`: every unit was cancelled. `refunded`: after-sales took back the last unit the
member kept (refunded it, or reissued it and the new delivery failed). `fulfilled`,
`partially_fulfilled`, `failed`, `cancelled` and `refunded` are final, except that a settled
order may still become `refunded`.

Each transition writes one audit row and one event, and every `order.*` event carries the same
payload (`order_event`), whichever path (checkout, fulfillment, cancel) caused it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit
from app.orders.models import Order
from app.webhooks.outbox import record_event

ALLOWED: dict[str | None, frozenset[str]] = {
    None: frozenset({"processing", "fulfilled"}),
    "processing": frozenset(
        {"fulfilled", "partially_fulfilled", "failed", "cancelled", "partially_refunded"}
    ),
    "partially_refunded": frozenset(
        {
            "fulfilled",
            "partially_fulfilled",
            "failed",
            "cancelled",
            "partially_refunded",
            "refunded",
        }
    ),
    "fulfilled": frozenset({"refunded"}),
    "partially_fulfilled": frozenset({"refunded"}),
    "failed": frozenset(),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}

# the event a transition into a status announces
EVENTS = {
    "processing": "order.created",
    "fulfilled": "order.fulfilled",
    "partially_fulfilled": "order.partially_fulfilled",
    "failed": "order.failed",
    "cancelled": "order.cancelled",
    "partially_refunded": "order.cancelled",
    "refunded": "order.refunded",
}


class IllegalTransition(RuntimeError):
    """A bug, not a client error: a path tried a status change the machine does not allow."""


def order_event(order: Order) -> dict[str, Any]:
    """The payload of every `order.*` event."""
    return {"order_id": order.id, "member": order.member.external_id, "status": order.status}


def transition(
    session: Session,
    actor: Actor,
    order: Order,
    new: str,
    *,
    action: str | None = None,
    audit: dict[str, Any] | None = None,
) -> None:
    """Move `order` to `new` (a new order: its first status), audit it and announce it. A new
    order that is fulfilled at once announces `order.created` and then `order.fulfilled`.
    `action`: the audit action, when it says more than the status (`order.cancelled`);
    `audit`: more to record with the change."""
    before = order.status
    if new not in ALLOWED[before]:
        raise IllegalTransition(f"order {order.id}: {before} → {new}")
    order.status = new
    events = [EVENTS[new]]
    if before is None:
        events = ["order.created"] + (["order.fulfilled"] if new == "fulfilled" else [])
    record_audit(
        session,
        actor,
        action or events[0],
        "order",
        order.id,
        partner_id=order.partner_id,
        before=None if before is None else {"status": before},
        after={"status": new, **(audit or {})},
    )
    payload = order_event(order)
    for event in events:
        record_event(session, event, payload, order.partner_id, order_id=order.id)
