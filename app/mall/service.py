"""Entering the mall: a partner's backend asks for a one-time launch URL for one of its
members; the member's browser redeems it (once, within a minute) for a mall session bound to
that partner and member. There is no other way in: the mall has no passwords."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.service import hash_token
from app.core.audit import Actor, record_audit
from app.core.errors import DomainError
from app.mall.models import LaunchToken, MallSession
from app.members.errors import MemberBlocked
from app.members.models import Member
from app.members.service import MemberChanges, find_member, upsert_member

LAUNCH_VALID_FOR = timedelta(seconds=60)
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


class LaunchRefused(DomainError):
    code = "launch_refused"


@dataclass(frozen=True)
class Launch:
    token: str
    expires_at: datetime


def issue_launch(
    session: Session,
    actor: Actor,
    partner_id: str,
    external_id: str,
    now: datetime,
    create: MemberChanges | None = None,
) -> Launch:
    """A one-time token for the member (created first with `create`, when the partner asks
    for it and the member is new). Blocked members get none."""
    if create is not None:
        member, _created = upsert_member(session, actor, partner_id, external_id, create)
    else:
        member = find_member(session, partner_id, external_id)
    if member.status != "active":
        raise MemberBlocked("This member is blocked.")
    token = secrets.token_urlsafe(32)
    expires_at = now + LAUNCH_VALID_FOR
    session.add(
        LaunchToken(
            digest=hash_token(token),
            partner_id=partner_id,
            member_id=member.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    record_audit(session, actor, "member.launch_issued", "member", member.id, partner_id=partner_id)
    return Launch(token, expires_at)


def redeem_launch(
    session: Session, partner_id: str, token: str, now: datetime
) -> tuple[MallSession, str]:
    """Trade a launch token for a session (and its cookie value). One conditional UPDATE marks
    the token used: of two browsers redeeming it at once, one wins; a used, expired or other
    partner's token is refused the same way."""
    member_id = session.scalar(
        update(LaunchToken)
        .where(
            LaunchToken.digest == hash_token(token),
            LaunchToken.partner_id == partner_id,
            LaunchToken.used_at.is_(None),
            LaunchToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(LaunchToken.member_id)
        .execution_options(synchronize_session=False)
    )
    if member_id is None:
        raise LaunchRefused("This link was used or has expired; open the mall from the app again.")
    cookie = secrets.token_urlsafe(32)
    mall_session = MallSession(
        partner_id=partner_id,
        member_id=member_id,
        digest=hash_token(cookie),
        created_at=now,
        last_seen_at=now,
    )
    session.add(mall_session)
    session.flush()
    record_audit(
        session,
        Actor("member", member_id),
        "member.mall_session_started",
        "mall_session",
        mall_session.id,
        partner_id=partner_id,
    )
    return mall_session, cookie


def live_session(
    session: Session, partner_id: str, cookie: str, now: datetime
) -> tuple[MallSession, Member] | None:
    """The session a cookie names, if it is this partner's, not ended, not idle past 30
    minutes nor older than 12 hours, and its member still active."""
    found = session.scalars(
        select(MallSession).where(
            MallSession.digest == hash_token(cookie),
            MallSession.partner_id == partner_id,
            MallSession.ended_at.is_(None),
            MallSession.last_seen_at > now - IDLE_TIMEOUT,
            MallSession.created_at > now - ABSOLUTE_TIMEOUT,
        )
    ).first()
    if found is None:
        return None
    member = session.get_one(Member, found.member_id)
    if member.status != "active":
        return None
    if now - found.last_seen_at > TOUCH_EVERY:
        found.last_seen_at = now
    return found, member


def end_session(session: Session, mall_session: MallSession, now: datetime) -> None:
    mall_session.ended_at = now
