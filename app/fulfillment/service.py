"""The fulfillment engine: direct-recharge and link deliveries through supplier offers.

A delivery moves pending → submitted → delivered, or back to pending for the next offer by
priority (failover), or to failed once every offer has failed — which refunds its unit. Each
step is its own short transaction; supplier calls happen between transactions, never inside
one. Our delivery id is the supplier-side idempotent reference, so a resubmission after a crash
cannot make a second recharge at the same supplier; results from a supplier we have already
moved away from, or for a final delivery, are recorded for reconciliation, never applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from blinker import NamedSignal, Namespace
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.audit import SYSTEM, record_audit
from app.core.queue import enqueue_after_commit
from app.core.tenancy import is_partner_active
from app.core.vault import Vault
from app.fulfillment.models import FINAL_STATUSES, Delivery
from app.fulfillment.suppliers.base import (
    ACCEPTED,
    FAILED,
    PROCESSING,
    REJECTED,
    SUCCESS,
    UNKNOWN,
    StatusReport,
    SubmitResult,
)
from app.partners.models import Partner
from app.supply.imports import store_delivered_link
from app.supply.models import Authorization, Code, Offer, Product, Supplier
from app.supply.suppliers import platform_today, serving_authorizations
from app.webhooks.outbox import record_event

log = logging.getLogger("quanyi.fulfillment")

# What became of a unit, for the order's domain to act on in the same transaction (issue the
# entitlement, refund, roll the order's status up). Sender: the Delivery; keyword arguments:
# session, now, and for a delivery link (a Code or None) and provenance.
_signals = Namespace()
unit_delivered = _signals.signal("unit-delivered")
unit_failed = _signals.signal("unit-failed")

CHECK_AFTER = timedelta(seconds=30)  # no result this long after submitting: poll
RETRY_UNREACHABLE_AFTER = timedelta(seconds=10)
LOST_JOB_AFTER = timedelta(seconds=30)  # pending and untouched this long: its job was lost
MAX_ATTEMPTS_PER_OFFER = 3
OPEN_SUBMISSION_GIVE_UP_AFTER = timedelta(days=7)
# a supplier we cannot reach for this long is given up for this delivery (its late answer, if
# any, is recorded for reconciliation, never delivered twice)
UNREACHABLE_GIVE_UP_AFTER = timedelta(minutes=10)
JOBS = "app.fulfillment.jobs"


@dataclass(frozen=True)
class Submission:
    """What a submit job sends, decided inside the first transaction."""

    delivery_id: str
    supplier_id: str
    offer_id: str
    sku: str
    account: str | None


def stage_submit(session: Session, delivery: Delivery) -> None:
    enqueue_after_commit(session, f"{JOBS}.submit_delivery", delivery.id, queue="fulfillment")


def stage_poll(session: Session, delivery: Delivery) -> None:
    enqueue_after_commit(session, f"{JOBS}.poll_delivery", delivery.id, queue="fulfillment")


def _lock(session: Session, delivery_id: str) -> Delivery | None:
    """The delivery, locked; None when another worker holds it (it will finish the step)."""
    return session.scalars(
        select(Delivery).where(Delivery.id == delivery_id).with_for_update(skip_locked=True)
    ).first()


def _next_offer(
    session: Session, delivery: Delivery, now: datetime
) -> tuple[Offer, Authorization] | None:
    """The offer to send the delivery to, with the authorization it serves under: the current
    one again (a resubmission) while it may, else the next by priority among those not tried.
    An offer whose supplier holds no authorization for this product and this partner's region
    today (lapsed, revoked, another region, or another supplier's exclusivity) is passed over,
    whatever its priority. Sandbox and live supply never cross, whatever the offers say."""
    product = session.get_one(Product, delivery.product_id)
    region, sandbox_of_id = session.execute(
        select(Partner.region, Partner.sandbox_of_id).where(Partner.id == delivery.partner_id)
    ).one()
    offers = session.scalars(
        select(Offer)
        .join(Supplier, Supplier.id == Offer.supplier_id)
        .where(
            Offer.product_id == delivery.product_id,
            Offer.status == "active",
            Supplier.status == "active",
            # a sandbox partner's units go to the sandbox supplier only, and no live unit does
            Supplier.is_sandbox == (sandbox_of_id is not None),
            Offer.id.not_in(delivery.tried_offer_ids or [""]),
        )
        .order_by(Offer.priority, Offer.id)
    ).all()
    serving = serving_authorizations(session, product, region, platform_today(now))
    for offer in sorted(offers, key=lambda o: o.id != delivery.offer_id):  # current first
        if offer.supplier_id in serving:
            return offer, serving[offer.supplier_id]
    return None


def begin_submission(session: Session, delivery_id: str, now: datetime) -> Submission | None:
    """Pick the offer and mark the delivery submitted (committed before the supplier call, so a
    crash mid-call leaves a delivery the poll will ask about). None: nothing to send."""
    delivery = _lock(session, delivery_id)
    if delivery is None or delivery.status != "pending":
        return None
    if not is_partner_active(session, delivery.partner_id):
        return None  # held, pending, until the partner is active again (the sweep retries)
    chosen = _next_offer(session, delivery, now)
    if chosen is None:
        fail_delivery(session, delivery, "every authorized offer failed", now)
        return None
    offer, authorization = chosen
    delivery.status, delivery.offer_id = "submitted", offer.id
    delivery.authorization_id = authorization.id
    delivery.attempts += 1
    delivery.submitted_at, delivery.next_check_at = now, now + CHECK_AFTER
    return Submission(
        delivery.id, offer.supplier_id, offer.id, offer.supplier_sku, delivery.recharge_account
    )


def record_submission(
    session: Session, submission: Submission, result: SubmitResult, now: datetime
) -> None:
    delivery = _lock(session, submission.delivery_id)
    if (
        delivery is None
        or delivery.status != "submitted"
        or delivery.offer_id != submission.offer_id
    ):
        return  # a callback or another worker moved it on already
    if result.outcome == ACCEPTED:
        delivery.supplier_order_no = result.supplier_order_no
    elif result.outcome == REJECTED:
        _give_up_offer(session, delivery, result.message or "refused")
    else:  # unreachable: unknown outcome, ask again soon
        delivery.last_error = result.message
        delivery.next_check_at = now + RETRY_UNREACHABLE_AFTER


def _give_up_offer(
    session: Session, delivery: Delivery, reason: str, still_open_since: datetime | None = None
) -> None:
    """Failover: this offer is done for this delivery; the next one by priority is tried.
    `still_open_since`: the supplier never gave a final answer and may still recharge; its
    submission is polled until it does (poll_open_submissions)."""
    if delivery.offer_id is not None:
        delivery.tried_offer_ids = [*(delivery.tried_offer_ids or []), delivery.offer_id]
        if still_open_since is not None:
            offer = session.get_one(Offer, delivery.offer_id)
            delivery.open_submissions = [
                *(delivery.open_submissions or []),
                {
                    "supplier_id": offer.supplier_id,
                    "offer_id": offer.id,
                    "since": still_open_since.isoformat(),
                },
            ]
            delivery.open_check_at = still_open_since + CHECK_AFTER
    delivery.status, delivery.last_error, delivery.next_check_at = "pending", reason, None
    stage_submit(session, delivery)


def apply_report(
    session: Session,
    delivery_id: str,
    supplier_id: str,
    report: StatusReport,
    now: datetime,
    vault: Vault | None = None,
) -> str:
    """Act on a supplier's word (a callback or a poll answer). Returns what was done. `vault`
    seals a link product's claim link; a link's success without one fails over."""
    delivery = session.scalars(
        select(Delivery).where(Delivery.id == delivery_id).with_for_update()
    ).first()
    if delivery is None:
        return "unknown_delivery"
    offer = session.get(Offer, delivery.offer_id) if delivery.offer_id else None
    current = offer is not None and offer.supplier_id == supplier_id
    sent_to = set(
        session.scalars(
            select(Offer.supplier_id).where(
                Offer.id.in_([*(delivery.tried_offer_ids or []), delivery.offer_id or ""])
            )
        )
    )
    if supplier_id not in sent_to:  # it may only speak of what we asked it to deliver
        log.warning(
            "supplier reported on a delivery it was never sent",
            extra={"supplier_id": supplier_id, "delivery_id": delivery.id},
        )
        return "not_sent_to_supplier"
    if delivery.status in FINAL_STATUSES or not current or delivery.status != "submitted":
        if report.status != SUCCESS:
            return "ignored"
        if delivery.status != "delivered":
            _record_late_result(session, delivery, supplier_id, report, now, "late_success")
            return "late_success_recorded"
        if delivery.offer_id and not current:  # recharged twice: by us and by them
            _record_late_result(session, delivery, supplier_id, report, now, "double_delivery")
            return "double_delivery_recorded"
        return "ignored"
    assert offer is not None  # the delivery is submitted to this supplier's offer (`current`)
    if report.status == SUCCESS:
        link = None
        if delivery.fulfillment_type == "link":
            if not report.claim_url or vault is None:
                _give_up_offer(session, delivery, "success without a claim link")
                return "failed_over"
            link = store_delivered_link(
                session,
                vault,
                delivery.product_id,
                offer.id,
                report.claim_url,
                report.claim_expires_at,
            )
        deliver(session, delivery, report.supplier_order_no, now, link)
        return "delivered"
    if report.status == FAILED:
        _give_up_offer(session, delivery, report.message or "supplier reported failure")
        return "failed_over"
    if report.status == UNKNOWN:  # the supplier never saw it: send again (idempotent reference)
        if delivery.attempts >= MAX_ATTEMPTS_PER_OFFER:
            _give_up_offer(session, delivery, "supplier never received the order")
            return "failed_over"
        delivery.status = "pending"
        stage_submit(session, delivery)
        return "resubmitted"
    if (
        report.status != PROCESSING
        and delivery.submitted_at is not None
        and (now - delivery.submitted_at > UNREACHABLE_GIVE_UP_AFTER)
    ):
        _give_up_offer(session, delivery, "supplier unreachable", still_open_since=now)
        return "failed_over"
    delivery.next_check_at = now + (
        CHECK_AFTER if report.status == PROCESSING else RETRY_UNREACHABLE_AFTER
    )
    return "waiting"


def _record_late_result(
    session: Session,
    delivery: Delivery,
    supplier_id: str,
    report: StatusReport,
    now: datetime,
    kind: str,
) -> None:
    """A success we cannot deliver (`late_success`: after we refunded or moved on) or that
    another supplier already delivered (`double_delivery`: the member was recharged twice):
    never delivered twice, kept for settlement and reconciliation. A double delivery also
    alerts the operators (`delivery.double_delivery`, a platform event)."""
    if delivery.late_result is not None:
        return
    delivery.late_result = {
        "kind": kind,
        "supplier_id": supplier_id,
        "status": report.status,
        "supplier_order_no": report.supplier_order_no,
        "at": now.isoformat(),
    }
    record_audit(
        session,
        SYSTEM,
        f"delivery.{kind}",
        "delivery",
        delivery.id,
        partner_id=delivery.partner_id,
        after=delivery.late_result,
    )
    if kind == "double_delivery":
        record_event(
            session,
            "delivery.double_delivery",
            {
                "delivery_id": delivery.id,
                "partner_id": delivery.partner_id,
                "order_id": delivery.order_id,
                "supplier_id": supplier_id,
                "supplier_order_no": report.supplier_order_no,
            },
            None,
        )


def create_deliveries(
    session: Session,
    partner_id: str,
    order_id: str,
    item_id: str,
    product: Product,
    units: int,
    per_unit: int,
    recharge_account: str | None,
) -> list[Delivery]:
    """The deliveries of one order item's `product` (`per_unit` each for `units` units: a
    bundle's component). The engine takes the direct-recharge and link ones once the order
    commits; card keys are handed over by the caller (`hand_over_code`)."""
    deliveries = [
        Delivery(
            partner_id=partner_id,
            order_id=order_id,
            item_id=item_id,
            unit=unit,
            product_id=product.id,
            fulfillment_type=product.fulfillment_type,
            status="pending",
            recharge_account=recharge_account,
        )
        for unit in range(units)
        for _ in range(per_unit)
    ]
    session.add_all(deliveries)
    if product.fulfillment_type != "card_key":
        for delivery in deliveries:
            stage_submit(session, delivery)
    return deliveries


def hand_over_code(delivery: Delivery, code: Code, now: datetime) -> None:
    """A card-key delivery is done the moment its (claimed) code is assigned."""
    delivery.code_id, delivery.status, delivery.delivered_at = code.id, "delivered", now


def deliver(
    session: Session,
    delivery: Delivery,
    supplier_order_no: str | None,
    now: datetime,
    link: Code | None = None,
) -> None:
    """The unit is delivered (a recharge receipt, or the claim `link`: a sealed code revealed
    like a card key); the order's domain issues the entitlement (`unit_delivered`)."""
    delivery.status, delivery.delivered_at = "delivered", now
    if link is not None:
        delivery.code_id = link.id
    delivery.supplier_order_no = supplier_order_no or delivery.supplier_order_no
    provenance = _provenance(session, delivery)
    _announce(unit_delivered, session, delivery, now=now, link=link, provenance=provenance)


def _provenance(session: Session, delivery: Delivery) -> dict[str, str | None]:
    offer = session.get(Offer, delivery.offer_id) if delivery.offer_id else None
    authorization = (
        session.get(Authorization, delivery.authorization_id) if delivery.authorization_id else None
    )
    return {
        "supplier_id": offer.supplier_id if offer else None,
        "offer_id": delivery.offer_id,
        "supplier_order_no": delivery.supplier_order_no,
        "batch_id": None,
        "authorization_id": delivery.authorization_id,
        "contract_ref": authorization.contract_ref if authorization else None,
    }


def fail_delivery(session: Session, delivery: Delivery, reason: str, now: datetime) -> None:
    """Every offer failed: the unit fails; the order's domain refunds it (`unit_failed`)."""
    delivery.status, delivery.last_error, delivery.next_check_at = "failed", reason, None
    record_event(
        session,
        "delivery.failed",
        {"delivery_id": delivery.id, "order_id": delivery.order_id, "reason": reason},
        delivery.partner_id,
        order_id=delivery.order_id,
    )
    record_audit(
        session,
        SYSTEM,
        "delivery.failed",
        "delivery",
        delivery.id,
        partner_id=delivery.partner_id,
        after={"reason": reason},
    )
    _announce(unit_failed, session, delivery, now=now)


def _announce(signal: NamedSignal, session: Session, delivery: Delivery, **details: Any) -> None:
    """Tell the order's domain, in this transaction, what became of a unit. The engine must not
    settle a unit nobody hears of (a process that never imported the receivers)."""
    if not signal.receivers:
        raise RuntimeError(f"nothing listens to {signal.name}: import app.orders")
    session.flush()
    signal.send(delivery, session=session, **details)


def sweep(session: Session, now: datetime) -> tuple[int, int]:
    """Recovery: re-enqueue deliveries whose job was lost (a worker killed mid-job, Redis down
    when the order committed) and poll those without news. Returns (resubmitted, polled)."""
    lost = session.scalars(
        select(Delivery).where(
            Delivery.status == "pending",
            Delivery.fulfillment_type != "card_key",
            Delivery.updated_at < now - LOST_JOB_AFTER,
        )
    ).all()
    for delivery in lost:
        delivery.updated_at = now  # not again until LOST_JOB_AFTER has passed
        stage_submit(session, delivery)
    due = session.scalars(
        select(Delivery).where(Delivery.status == "submitted", Delivery.next_check_at <= now)
    ).all()
    for delivery in due:
        delivery.next_check_at = now + CHECK_AFTER
        stage_poll(session, delivery)
    for delivery in session.scalars(select(Delivery).where(Delivery.open_check_at <= now)):
        delivery.open_check_at = now + CHECK_AFTER
        enqueue_after_commit(
            session, f"{JOBS}.poll_open_submissions", delivery.id, queue="fulfillment"
        )
    return len(lost), len(due)


def close_open_submission(
    session: Session,
    delivery_id: str,
    supplier_id: str,
    report: StatusReport,
    now: datetime,
    vault: Vault | None = None,
) -> str:
    """A supplier's word on a submission we moved away from: a final one (success or
    failure) closes it, and a success is recorded as apply_report records it (a late success
    or a double delivery). A submission open for OPEN_SUBMISSION_GIVE_UP_AFTER is dropped,
    with an audit row, for reconciliation to settle."""
    delivery = session.scalars(
        select(Delivery).where(Delivery.id == delivery_id).with_for_update()
    ).first()
    if delivery is None:
        return "unknown_delivery"
    still_open = []
    outcome = "waiting"
    for entry in delivery.open_submissions or []:
        if entry["supplier_id"] != supplier_id:
            still_open.append(entry)
        elif report.status == SUCCESS:
            outcome = apply_report(session, delivery_id, supplier_id, report, now, vault)
        elif report.status == FAILED:
            outcome = "closed"
        elif now - datetime.fromisoformat(entry["since"]) > OPEN_SUBMISSION_GIVE_UP_AFTER:
            outcome = "given_up"
            record_audit(
                session,
                SYSTEM,
                "delivery.open_submission_given_up",
                "delivery",
                delivery.id,
                partner_id=delivery.partner_id,
                after=entry,
            )
        else:
            still_open.append(entry)
    delivery.open_submissions = still_open
    if not still_open:
        delivery.open_check_at = None
    return outcome


BALANCE_CHECK_EVERY = timedelta(minutes=5)


def suppliers_due_for_balance_check(session: Session, now: datetime) -> list[Supplier]:
    return list(
        session.scalars(
            select(Supplier).where(
                Supplier.status == "active",
                Supplier.api_base_url.is_not(None),
                (Supplier.balance_checked_at.is_(None))
                | (Supplier.balance_checked_at < now - BALANCE_CHECK_EVERY),
            )
        )
    )


def record_supplier_balance(
    session: Session, supplier_id: str, balance_minor: int | None, now: datetime
) -> None:
    """Store what the supplier reported; `supplier.balance_low` once per crossing below the
    threshold (running dry upstream is what stops card-key shops most often)."""
    supplier = session.get_one(Supplier, supplier_id, with_for_update=True)
    supplier.balance_checked_at = now
    if balance_minor is None:
        return
    supplier.balance_minor = balance_minor
    threshold = supplier.low_balance_threshold_minor
    low = threshold is not None and balance_minor < threshold
    if low and not supplier.is_balance_low:
        record_event(
            session,
            "supplier.balance_low",
            {
                "supplier_id": supplier.id,
                "balance_minor": balance_minor,
                "threshold_minor": threshold,
            },
        )
    supplier.is_balance_low = low
