"""Top-up requests: a partner says it sent money; the platform credits the account once the
money is seen, or rejects the request. A request is decided once (its row is locked), so two
operators clicking at once credit it once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import TopUpRequest
from app.accounts.service import top_up
from app.core.audit import Actor, record_audit
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import Page, paginate
from app.core.tenancy import scoped

MAX_TOP_UP_MINOR = 10**12  # ¥10 billion: more is a typo


class TopUpAlreadyDecided(Conflict):
    code = "top_up_already_decided"


def request_top_up(
    session: Session,
    actor: Actor,
    partner_id: str,
    amount_minor: int,
    payment_reference: str,
    note: str | None,
) -> TopUpRequest:
    if not 0 < amount_minor <= MAX_TOP_UP_MINOR:
        raise ValidationFailed({"amount": ["Must be positive and at most ¥10,000,000,000."]})
    if not payment_reference.strip():
        raise ValidationFailed({"payment_reference": ["Name the transfer (its bank reference)."]})
    request = TopUpRequest(
        partner_id=partner_id,
        amount_minor=amount_minor,
        payment_reference=payment_reference.strip(),
        note=(note or "").strip() or None,
        requested_by=f"{actor.kind}:{actor.id}",
    )
    session.add(request)
    session.flush()
    record_audit(
        session,
        actor,
        "top_up.requested",
        "top_up_request",
        request.id,
        partner_id=partner_id,
        after={"amount_minor": amount_minor, "payment_reference": request.payment_reference},
    )
    return request


def list_requests(
    session: Session,
    partner_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[TopUpRequest]:
    """A partner's requests (or, with no partner, every partner's: the platform's queue)."""
    stmt = scoped(TopUpRequest, partner_id) if partner_id else select(TopUpRequest)
    if status:
        stmt = stmt.where(TopUpRequest.status == status)
    return paginate(session, stmt, TopUpRequest.id, limit, cursor)


def decide(
    session: Session, actor: Actor, request_id: str, credit: bool, note: str | None
) -> TopUpRequest:
    """Credit the account with the requested amount, or reject; either once."""
    request = session.scalars(
        select(TopUpRequest)
        .where(TopUpRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if request is None:
        raise NotFound("Top-up request not found.")
    if request.status != "requested":
        raise TopUpAlreadyDecided(f"This request was {request.status} already.")
    if credit:
        entry = top_up(
            session,
            actor,
            request.partner_id,
            request.amount_minor,
            f"transfer {request.payment_reference}",
        )
        request.entry_id = entry.id
    request.status = "credited" if credit else "rejected"
    request.decided_by = f"{actor.kind}:{actor.id}"
    request.decided_at = utcnow()
    request.decision_note = (note or "").strip() or None
    record_audit(
        session,
        actor,
        f"top_up.{request.status}",
        "top_up_request",
        request.id,
        partner_id=request.partner_id,
        before={"status": "requested"},
        after={
            "status": request.status,
            "entry_id": request.entry_id,
            "note": request.decision_note,
        },
    )
    return request
