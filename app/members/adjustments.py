"""Staff adjustments of a member's points, under maker–checker: an adjustment within the
partner's threshold moves the points at once; above it, it waits until a second staff member
(never the one who asked) approves it, or someone rejects it. Each step is audited; an
adjustment is applied at most once (its row is locked, then its status checked)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit
from app.core.errors import Conflict, ValidationFailed
from app.core.tenancy import get_owned, scoped
from app.members import external
from app.members.models import Member, PointsAdjustment
from app.members.service import find_member, grant_points, lock_member, spend_points


class SelfApproval(Conflict):
    code = "self_approval"


class AdjustmentDecided(Conflict):
    code = "adjustment_decided"


def request_adjustment(
    session: Session,
    actor: Actor,
    partner_id: str,
    external_id: str,
    delta: int,
    reason: str,
    *,
    threshold: int,
    now: datetime,
) -> PointsAdjustment:
    if delta == 0:
        raise ValidationFailed({"amount": ["Give a number of points other than 0."]})
    external.refuse_internal_moves(session, partner_id)
    member = find_member(session, partner_id, external_id)
    adjustment = PointsAdjustment(
        partner_id=partner_id,
        member_id=member.id,
        delta=delta,
        reason=reason,
        status="pending",
        requested_by=actor.id,
        created_at=now,
    )
    session.add(adjustment)
    _audit(session, actor, adjustment, "points_adjustment.requested")
    if abs(delta) <= threshold:
        _apply(session, actor, adjustment, now)
    return adjustment


def decide(
    session: Session,
    actor: Actor,
    partner_id: str,
    adjustment_id: str,
    approve: bool,
    now: datetime,
) -> PointsAdjustment:
    adjustment = get_owned(
        session,
        PointsAdjustment,
        partner_id,
        PointsAdjustment.id == adjustment_id,
        for_update=True,
        label="Adjustment",
    )
    if adjustment.status != "pending":
        raise AdjustmentDecided(f"This adjustment is {adjustment.status} already.")
    if approve:
        if adjustment.requested_by == actor.id:
            raise SelfApproval("Another staff member must approve your own adjustment.")
        _apply(session, actor, adjustment, now)
    else:
        adjustment.status, adjustment.decided_by, adjustment.decided_at = "rejected", actor.id, now
        _audit(session, actor, adjustment, "points_adjustment.rejected")
    return adjustment


def pending_adjustments(session: Session, partner_id: str) -> list[PointsAdjustment]:
    stmt = scoped(PointsAdjustment, partner_id).where(PointsAdjustment.status == "pending")
    return list(session.scalars(stmt.order_by(PointsAdjustment.id)))


def member_of(session: Session, adjustment: PointsAdjustment) -> Member:
    return session.get_one(Member, adjustment.member_id)


def _apply(session: Session, actor: Actor, adjustment: PointsAdjustment, now: datetime) -> None:
    member = lock_member(session, adjustment.member_id)
    reason = f"{adjustment.reason} (adjustment {adjustment.id})"
    if adjustment.delta > 0:
        entry = grant_points(session, member, adjustment.delta, reason)
    else:
        entry = spend_points(session, member, -adjustment.delta, reason, kind="deduct", now=now)
    adjustment.status, adjustment.entry_id = "applied", entry.id
    adjustment.decided_by, adjustment.decided_at = actor.id, now
    _audit(session, actor, adjustment, "points_adjustment.applied")


def _audit(session: Session, actor: Actor, adjustment: PointsAdjustment, action: str) -> None:
    record_audit(
        session,
        actor,
        action,
        "points_adjustment",
        adjustment.id,
        partner_id=adjustment.partner_id,
        after={
            "member_id": adjustment.member_id,
            "delta": adjustment.delta,
            "reason": adjustment.reason,
            "status": adjustment.status,
            "requested_by": adjustment.requested_by,
        },
    )
