"""The partner's own points ledger (points source `external`): a bank keeps its points of
record, and we deduct and refund them through its points service.

The protocol (served for the demo and the tests by app/members/points_sim.py): JSON POSTs to
`<url>/balance`, `/deduct`, `/refund` and `/status`, each signed (app/core/signing.py) with
the secret we share with the partner and carrying a `timestamp`. The partner's service is
idempotent on `request_id` (our move's id) and refuses a request older than REQUEST_TTL, so a
status query made after that and finding nothing is a definitive "never applied".

How nothing is lost or taken twice:
- checkout deducts (HTTP, before the partner account is locked) inside the order's
  transaction and writes the `done` move with the order; a deduct whose answer timed out is
  asked about once by a status query — never guessed;
- when the deduct was sent but no order commits (a later step refused, the answer was lost, the
  commit failed), the move is handed to a job (`settle_later`): it records the move `pending`
  and the sweep resolves it by status query, refunding a deduct the partner did apply; the
  same job, scheduled before the deduct is sent (SETTLE_CHECK_DELAY), settles it when the
  process died before either could run (and does nothing when the order committed);
- refunds (failed or cancelled units, after-sales) are `pending` moves sent after the commit
  and retried on REFUND_BACKOFF until the partner acknowledges them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import redis
from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.core import outbound
from app.core.audit import Actor, record_audit
from app.core.db import day_bounds, utcnow
from app.core.errors import Conflict, DomainError
from app.core.pagination import Page, paginate
from app.core.queue import DEFAULT_RETRY, enqueue_after_commit, get_queue
from app.core.signing import signed, verify
from app.core.vault import Vault
from app.members.errors import InsufficientPoints
from app.members.models import ExternalPointsMove, Member
from app.partners.models import Partner

log = logging.getLogger("quanyi.points")

REQUEST_TTL = timedelta(seconds=60)
# Duiba's schedule for result notices, then every two hours until acknowledged
REFUND_BACKOFF = [timedelta(minutes=m) for m in (1, 3, 5, 10, 20, 60, 120)]
BALANCE_CACHE_SECONDS = 15
_UNSETTLED = "external_deducts"  # session.info: deducts sent in the open transaction
# a deduct is checked again this long after it was sent, when its status answer is final
SETTLE_CHECK_DELAY = REQUEST_TTL * 2


class PointsServiceUnavailable(DomainError):
    code = "points_service_unavailable"


class PointsKeptByPartner(Conflict):
    code = "points_kept_by_partner"


# --- the partner's service -------------------------------------------------------------------

DONE, REFUSED, NOT_FOUND, UNKNOWN = "done", "refused", "not_found", "unknown"


@dataclass(frozen=True)
class PointsService:
    url: str
    secret: str
    timeout: float

    def call(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The signed answer, or None when there is none to trust (no answer in time, a server
        error, a bad signature)."""
        body = signed({**params, "timestamp": int(time.time())}, self.secret)
        try:
            response = outbound.client().post(
                self.url.rstrip("/") + path, json=body, timeout=self.timeout
            )
            answer = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        if response.status_code >= 500 or not isinstance(answer, dict):
            return None
        if not verify(answer, self.secret):
            log.warning("points service %s answered with a bad signature", self.url)
            return None
        return answer

    def balance(self, member: str) -> int | None:
        answer = self.call("/balance", {"member": member})
        return int(answer["balance"]) if answer and "balance" in answer else None

    def deduct(self, move: ExternalPointsMove, member: str) -> str:
        answer = self.call("/deduct", _move_params(move, member))
        return _outcome(answer)

    def refund(self, move: ExternalPointsMove, member: str) -> str:
        answer = self.call("/refund", _move_params(move, member))
        return DONE if _outcome(answer) == DONE else UNKNOWN

    def status(self, move_id: str) -> str:
        return _outcome(self.call("/status", {"request_id": move_id}))


def _move_params(move: ExternalPointsMove, member: str) -> dict[str, Any]:
    return {"request_id": move.id, "member": member, "amount": move.amount, "order": move.order_id}


def _outcome(answer: dict[str, Any] | None) -> str:
    if answer is None:
        return UNKNOWN
    status = answer.get("status")
    return status if status in (DONE, REFUSED, NOT_FOUND) else UNKNOWN


def service_for(partner: Partner, vault: Vault) -> PointsService:
    if not partner.points_service_url or partner.points_service_blob is None:
        raise PointsServiceUnavailable("This partner's points service is not configured.")
    secret = vault.open(
        partner.points_service_key_id or "", partner.points_service_blob, _context(partner)
    )
    timeout = float(current_app.config.get("POINTS_SERVICE_TIMEOUT_SECONDS", 2.0))
    return PointsService(partner.points_service_url, secret, timeout)


def _context(partner: Partner) -> str:
    return f"points-service:{partner.id}"


def configure(
    session: Session, actor: Actor, partner: Partner, vault: Vault, url: str, secret: str
) -> None:
    """Point a partner's members' points at its own ledger (audited; the secret never is)."""
    sealed = vault.seal(secret, _context(partner))
    partner.points_source = "external"
    partner.points_service_url = url
    partner.points_service_key_id, partner.points_service_blob = sealed.key_id, sealed.blob
    record_audit(
        session,
        actor,
        "partner.points_service_configured",
        "partner",
        partner.id,
        partner_id=partner.id,
        after={"points_source": "external", "points_service_url": url},
    )


def keeps_points(session: Session, partner_id: str) -> bool:
    """Whether the partner keeps its members' points in its own ledger (one column read: every
    order paid with points asks)."""
    source = session.scalar(select(Partner.points_source).where(Partner.id == partner_id))
    return source == "external"


def refuse_internal_moves(session: Session, partner_id: str) -> None:
    """Grants and deductions of an external ledger happen at the partner, not here."""
    if keeps_points(session, partner_id):
        raise PointsKeptByPartner(
            "This partner keeps its members' points in its own ledger; move them there."
        )


# --- balance ---------------------------------------------------------------------------------


def _balance_key(member_id: str) -> str:
    return f"quanyi:points:balance:{member_id}"


def balance(connection: redis.Redis, service: PointsService, member: Member) -> int | None:
    """The member's balance at the partner, kept BALANCE_CACHE_SECONDS (None: no answer)."""
    try:
        cached = connection.get(_balance_key(member.id))
    except redis.RedisError:
        cached = None
    if cached is not None:
        return int(cached)
    found = service.balance(member.external_id)
    if found is not None:
        with contextlib.suppress(redis.RedisError):
            connection.set(_balance_key(member.id), found, ex=BALANCE_CACHE_SECONDS)
    return found


def points_balance(
    connection: redis.Redis, vault: Vault, partner: Partner, member: Member
) -> int | None:
    """What the member has to spend: our ledger's balance, or the partner's (None: its points
    service did not answer)."""
    if partner.points_source != "external":
        return member.points_balance
    try:
        service = service_for(partner, vault)
    except PointsServiceUnavailable:
        return None
    return balance(connection, service, member)


def forget_balance(connection: redis.Redis, member_id: str) -> None:
    try:
        connection.delete(_balance_key(member_id))
    except redis.RedisError:
        log.warning("could not drop a cached points balance")


# --- checkout --------------------------------------------------------------------------------


def deduct_for_order(
    session: Session,
    service: PointsService,
    member: Member,
    amount: int,
    order_id: str,
    now: datetime,
) -> ExternalPointsMove:
    """Deduct `amount` at the partner for this order, or raise and leave nothing to undo
    (InsufficientPoints when the partner refused; PointsServiceUnavailable when the outcome is
    not known, after the move was handed to `settle_later`)."""
    move = ExternalPointsMove(
        partner_id=member.partner_id,
        member_id=member.id,
        order_id=order_id,
        kind="deduct",
        amount=amount,
        reason=f"order {order_id}",
        attempts=1,
    )
    # from here until the commit, a lost transaction leaves a deduct to settle: at once when it
    # rolls back (see below); when the process dies first, by the check scheduled here, which
    # finds the move `done` if its order committed. No check, no deduct.
    unsettled = _unsettled(move)
    try:
        _enqueue_settle(unsettled, SETTLE_CHECK_DELAY)
    except redis.RedisError:
        raise PointsServiceUnavailable(
            "The deduction could not be safeguarded; nothing was ordered. Try again in a minute."
        ) from None
    session.info.setdefault(_UNSETTLED, []).append(unsettled)
    outcome = service.deduct(move, member.external_id)
    if outcome == UNKNOWN:  # no answer in time: ask, never guess
        outcome = service.status(move.id)
    if outcome == REFUSED:
        session.info[_UNSETTLED].pop()
        raise InsufficientPoints(f"The member has fewer than {amount} usable points.")
    if outcome != DONE:
        raise PointsServiceUnavailable(
            "The partner's points service did not confirm the deduction; nothing was ordered."
            " Try again in a minute."
        )
    move.status, move.resolved_at = DONE, now
    session.add(move)
    return move


def _unsettled(move: ExternalPointsMove) -> list[str]:
    return [move.id, move.partner_id, move.member_id, move.order_id, str(move.amount)]


def settle_later(session: Session) -> None:
    """Hand each deduct sent in this session's transaction to a job that records and resolves
    it: called when that transaction will not commit the order."""
    for args in session.info.pop(_UNSETTLED, []):
        try:
            _enqueue_settle(args)
        except redis.RedisError:
            log.warning("deduct %s is settled by its scheduled check", args[0])


def _enqueue_settle(args: list[str], delay: timedelta | None = None) -> None:
    queue, job = get_queue("default"), "app.members.jobs.settle_deduct"
    if delay is None:
        queue.enqueue(job, *args, retry=DEFAULT_RETRY)
    else:
        queue.enqueue_in(delay, job, *args, retry=DEFAULT_RETRY)


@event.listens_for(Session, "after_commit")
def _settled(session: Session) -> None:
    session.info.pop(_UNSETTLED, None)  # committed with its order


@event.listens_for(Session, "after_rollback")
def _lost(session: Session) -> None:
    if session.info.get(_UNSETTLED):
        settle_later(session)


# --- resolving and refunding -----------------------------------------------------------------


def record_unsettled(
    session: Session, move_id: str, partner_id: str, member_id: str, order_id: str, amount: int
) -> ExternalPointsMove:
    """The deduct a lost checkout sent, as a `pending` move (once: the job may run twice)."""
    move = session.get(ExternalPointsMove, move_id, with_for_update=True)
    if move is None:
        move = ExternalPointsMove(
            id=move_id,
            partner_id=partner_id,
            member_id=member_id,
            order_id=order_id,
            kind="deduct",
            amount=amount,
            reason=f"order {order_id} not placed",
            attempts=1,
            next_attempt_at=utcnow(),
        )
        session.add(move)
        session.flush()
    return move


def refund_for_order(
    session: Session, partner_id: str, member_id: str, order_id: str, amount: int, why: str
) -> ExternalPointsMove:
    """A refund to send after the commit (app.members.jobs.send_move)."""
    move = ExternalPointsMove(
        partner_id=partner_id,
        member_id=member_id,
        order_id=order_id,
        kind="refund",
        amount=amount,
        reason=why,
        next_attempt_at=utcnow(),
    )
    session.add(move)
    session.flush()
    enqueue_after_commit(session, "app.members.jobs.send_move", move.id)
    return move


def paid_at_partner(session: Session, partner_id: str, order_id: str) -> bool:
    """Whether the order's points were deducted at the partner's ledger."""
    return (
        session.scalar(
            select(ExternalPointsMove.id).where(
                ExternalPointsMove.partner_id == partner_id,
                ExternalPointsMove.order_id == order_id,
                ExternalPointsMove.kind == "deduct",
                ExternalPointsMove.status == DONE,
            )
        )
        is not None
    )


def resolve(
    session: Session, service: PointsService, move: ExternalPointsMove, now: datetime
) -> None:
    """One attempt at a `pending` move (locked by the caller): a refund is sent (the partner
    is idempotent on its id); a deduct's outcome is asked for and, if the partner applied it,
    refunded (a pending deduct is one whose checkout never committed: a committed one is
    written `done` with its order). What stays unknown is tried again on REFUND_BACKOFF."""
    member = session.get_one(Member, move.member_id)
    if move.kind == "refund":
        outcome = service.refund(move, member.external_id)
    else:
        outcome = service.status(move.id)
        if outcome == NOT_FOUND and now - move.created_at < REQUEST_TTL:
            outcome = UNKNOWN  # the request may still arrive: ask once it cannot
    move.attempts += 1
    if outcome in (DONE, REFUSED, NOT_FOUND):
        move.status = DONE if outcome == DONE else "void"
        move.resolved_at, move.next_attempt_at, move.last_error = now, None, None
        if move.kind == "deduct" and move.status == DONE:
            refund_for_order(
                session, move.partner_id, move.member_id, move.order_id, move.amount,
                f"order {move.order_id} not placed",
            )  # fmt: skip
        return
    step = REFUND_BACKOFF[min(move.attempts, len(REFUND_BACKOFF)) - 1]
    if move.kind == "deduct" and now - move.created_at < REQUEST_TTL:
        step = move.created_at + REQUEST_TTL - now
    move.next_attempt_at = now + step
    move.last_error = "no answer from the partner's points service"


def attempt(session: Session, vault: Vault, move_id: str, now: datetime) -> str | None:
    """Lock the move and, while it is pending, make one attempt at it; the member whose
    balance it moved (None: nothing to do, another attempt got there first)."""
    move = session.get(ExternalPointsMove, move_id, with_for_update=True)
    if move is None or move.status != "pending":
        return None
    resolve(session, service_for(session.get_one(Partner, move.partner_id), vault), move, now)
    return move.member_id


def due_moves(session: Session, now: datetime, limit: int = 500) -> list[str]:
    return list(
        session.scalars(
            select(ExternalPointsMove.id)
            .where(
                ExternalPointsMove.status == "pending",
                ExternalPointsMove.next_attempt_at <= now,
            )
            .order_by(ExternalPointsMove.next_attempt_at)
            .limit(limit)
        )
    )


# --- reading ---------------------------------------------------------------------------------


def list_moves(
    session: Session,
    partner_id: str,
    day: date | None,
    limit: int,
    cursor: str | None,
    member_id: str | None = None,
) -> Page[ExternalPointsMove]:
    """A day's deductions and refunds (the partner's local day; today by default), for the
    partner to match against its own ledger."""
    zone = session.get_one(Partner, partner_id).timezone
    start, end = day_bounds(day or utcnow().astimezone(ZoneInfo(zone)).date(), zone)
    stmt = select(ExternalPointsMove).where(
        ExternalPointsMove.partner_id == partner_id,
        ExternalPointsMove.created_at >= start,
        ExternalPointsMove.created_at < end,
    )
    if member_id is not None:
        stmt = stmt.where(ExternalPointsMove.member_id == member_id)
    return paginate(session, stmt, ExternalPointsMove.id, limit, cursor)


def member_moves(session: Session, member: Member, limit: int = 50) -> Iterator[ExternalPointsMove]:
    yield from session.scalars(
        select(ExternalPointsMove)
        .where(
            ExternalPointsMove.partner_id == member.partner_id,
            ExternalPointsMove.member_id == member.id,
            ExternalPointsMove.status != "void",
        )
        .order_by(ExternalPointsMove.id.desc())
        .limit(limit)
    )
