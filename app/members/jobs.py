"""Scheduled points work."""

from __future__ import annotations

from flask import current_app

from app.core.db import utcnow
from app.core.queue import job_app_context, redis_connection
from app.core.vault import current_vault
from app.extensions import db
from app.members import external
from app.members.service import expire_points


def expire_due_points() -> None:
    with job_app_context(), db.transaction() as session:
        expire_points(session)


def apply_grant_batch(batch_id: str) -> None:
    """All or nothing: the grants commit together; on any error the transaction rolls back
    and the batch is marked failed (in a transaction of its own)."""
    from app.members import grants

    with job_app_context():
        try:
            with db.transaction() as session:
                grants.apply(session, batch_id, redis_connection(current_app), utcnow())
        except Exception as error:
            with db.transaction() as session:
                grants.mark_failed(session, batch_id, f"{type(error).__name__}: {error}")
            raise


def settle_deduct(
    move_id: str, partner_id: str, member_id: str, order_id: str, amount: str
) -> None:
    """A deduct sent for an order that was never written: record it and resolve it now (the
    sweep tries again while the partner's answer stays unknown)."""
    with job_app_context():
        with db.transaction() as session:
            external.record_unsettled(
                session, move_id, partner_id, member_id, order_id, int(amount)
            )
        send_move(move_id)


def send_move(move_id: str) -> None:
    """One attempt at a pending move at the partner's points service (idempotent there)."""
    with job_app_context(), db.transaction() as session:
        member_id = external.attempt(session, current_vault(), move_id, utcnow())
        if member_id is not None:
            external.forget_balance(redis_connection(current_app), member_id)


def send_due_moves() -> None:
    """The sweep: every pending move whose next attempt is due (refunds retried on backoff,
    deducts whose outcome is still unknown)."""
    with job_app_context():
        with db.transaction() as session:
            due = external.due_moves(session, utcnow())
        for move_id in due:
            send_move(move_id)
