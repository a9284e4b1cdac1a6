"""Entering the mall: a partner's backend asks for a one-time launch URL for one of its
members; the member's browser redeems it (once, within a minute) for a mall session bound to
that partner and member. There is no other way in: the mall has no passwords."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, KeySet, RSAKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.service import hash_token
from app.core.audit import Actor, record_audit
from app.core.db import dialect_insert, utcnow
from app.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.mall.jwks import JwksSource
from app.mall.jwks import fetch as fetch_jwks
from app.mall.models import LaunchKey, LaunchToken, MallSession
from app.members.errors import MemberBlocked
from app.members.models import Member
from app.members.service import MemberChanges, find_member, upsert_member
from app.partners.listings import catalog_facet
from app.partners.models import Partner

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
    session: Session, partner_id: str, token: str, now: datetime, published: JwksSource | None
) -> tuple[MallSession, str]:
    """Trade a launch token — one we issued, or a JWT the partner signed — for a session (and
    its cookie value). `published` reads the keys a partner publishes at its JWKS URL."""
    if token.count(".") == 2:
        member_id = _signed_launch_member(session, partner_id, token, now, published)
    else:
        member_id = _issued_launch_member(session, partner_id, token, now)
    return _start_session(session, partner_id, member_id, now)


def _issued_launch_member(session: Session, partner_id: str, token: str, now: datetime) -> str:
    """One conditional UPDATE marks the token used: of two browsers redeeming it at once, one
    wins; a used, expired or other partner's token is refused the same way."""
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
    return str(member_id)


def _start_session(
    session: Session, partner_id: str, member_id: str, now: datetime
) -> tuple[MallSession, str]:
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


# --- launches the partner signs itself -----------------------------------------------------

SIGNED_LAUNCH_AUDIENCE = "quanyi:mall"
SIGNED_LAUNCH_MAX_LIFETIME = timedelta(minutes=5)
ALGORITHMS = ["RS256", "ES256"]


def register_launch_key(
    session: Session, actor: Actor, partner_id: str, kid: str, public_key_pem: str
) -> LaunchKey:
    """Keep a partner's public key (RSA of 2048 bits or more, or EC P-256) for the launches it
    signs. A private key is refused: we must never hold it."""
    key: RSAKey | ECKey | None = None
    for kind in (RSAKey, ECKey):
        try:
            key = kind.import_key(public_key_pem)
            break
        except (JoseError, ValueError, TypeError):
            continue
    if key is None or key.is_private:
        raise ValidationFailed({"public_key": ["A PEM public key (RSA or EC P-256), not private."]})
    if isinstance(key, RSAKey) and key.raw_value.key_size < 2048:
        raise ValidationFailed({"public_key": ["An RSA key of at least 2048 bits."]})
    if isinstance(key, ECKey) and key.as_dict(private=False).get("crv") != "P-256":
        raise ValidationFailed({"public_key": ["An EC key on P-256 (ES256)."]})
    if session.scalar(
        select(LaunchKey.id).where(LaunchKey.partner_id == partner_id, LaunchKey.kid == kid)
    ):
        raise Conflict(f"A launch key {kid!r} exists; use another kid.", field="kid")
    launch_key = LaunchKey(partner_id=partner_id, kid=kid, public_jwk=key.as_dict(private=False))
    session.add(launch_key)
    session.flush()
    record_audit(
        session,
        actor,
        "mall.launch_key_registered",
        "mall_launch_key",
        launch_key.id,
        partner_id=partner_id,
        after={"kid": kid, "kty": launch_key.public_jwk.get("kty")},
    )
    return launch_key


def revoke_launch_key(session: Session, actor: Actor, partner_id: str, kid: str) -> LaunchKey:
    found = session.scalars(
        select(LaunchKey).where(LaunchKey.partner_id == partner_id, LaunchKey.kid == kid)
    ).first()
    if found is None:
        raise NotFound("Launch key not found.")
    if found.revoked_at is None:
        found.revoked_at = utcnow()
        record_audit(
            session, actor, "mall.launch_key_revoked", "mall_launch_key", found.id,
            partner_id=partner_id,
        )  # fmt: skip
    return found


def list_launch_keys(session: Session, partner_id: str) -> list[LaunchKey]:
    return list(
        session.scalars(
            select(LaunchKey).where(LaunchKey.partner_id == partner_id).order_by(LaunchKey.id)
        )
    )


def _signed_launch_member(
    session: Session, partner_id: str, token: str, now: datetime, published: JwksSource | None
) -> str:
    """A JWT the partner signed with a key it registered or publishes: `iss` is the partner's
    id, `aud` "quanyi:mall", `sub` the member's external id, `exp` within five minutes of
    `iat`, and a `jti` never seen before (kept until it expires: a replay is refused)."""
    refused = LaunchRefused("This launch is not valid; open the mall from the app again.")
    jwks = [
        {**k.public_jwk, "kid": k.kid}
        for k in list_launch_keys(session, partner_id)
        if k.revoked_at is None
    ]
    url = session.get_one(Partner, partner_id).mall_jwks_url
    if url and published is not None:
        jwks += published.keys(partner_id, url, _token_kid(token))
    keys = [JWKRegistry.import_key(jwk) for jwk in jwks]
    if not keys:
        raise refused
    try:
        decoded = jwt.decode(token, KeySet(keys), algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            iss={"essential": True, "value": partner_id},
            aud={"essential": True, "value": SIGNED_LAUNCH_AUDIENCE},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError):
        raise refused from None
    claims = decoded.claims
    if int(claims["exp"]) - int(claims["iat"]) > SIGNED_LAUNCH_MAX_LIFETIME.total_seconds():
        raise refused
    member = session.scalars(
        select(Member).where(
            Member.partner_id == partner_id, Member.external_id == str(claims["sub"])
        )
    ).first()
    if member is None or member.status != "active":
        raise refused
    first_use = session.scalar(  # the jti, once: a second use of the same token conflicts
        dialect_insert(session, LaunchToken)
        .values(
            digest=hash_token(f"jwt:{claims['jti']}"),
            partner_id=partner_id,
            member_id=member.id,
            created_at=now,
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            used_at=now,
        )
        .on_conflict_do_nothing(index_elements=["digest"])
        .returning(LaunchToken.digest)
    )
    if first_use is None:
        raise refused
    return member.id


def _token_kid(token: str) -> str | None:
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return str(kid) if kid is not None else None


def set_jwks_url(
    session: Session, actor: Actor, partner: Partner, url: str | None, allow_private: bool
) -> list[str]:
    """Where the partner publishes its launch keys (None: nowhere); the kids it publishes now.
    A URL that serves no acceptable key is refused, so a typo cannot pass unnoticed."""
    kids: list[str] = []
    if url is not None:
        kids = [key["kid"] for key in fetch_jwks(url, allow_private)]
        if not kids:
            raise ValidationFailed({"url": ["Publishes no RSA (2048+) or P-256 key with a kid."]})
    if url != partner.mall_jwks_url:
        record_audit(
            session, actor, "mall.jwks_url_set", "partner", partner.id, partner_id=partner.id,
            before={"url": partner.mall_jwks_url}, after={"url": url, "kids": kids},
        )  # fmt: skip
        partner.mall_jwks_url = url
    return kids


CATEGORIES_KEPT_SECONDS = 60


def catalog_categories(
    session: Session, cache: redis.Redis, prefix: str, partner_id: str
) -> list[tuple[str, int]]:
    """The categories of the partner's sellable listings for the mall's navigation, counted
    at most once a minute (a GROUP BY over the whole catalog on every home page was the home
    page's main cost); read from the database when Redis does not answer."""
    key = f"{prefix}quanyi:mall:categories:{partner_id}"
    try:
        kept = cache.get(key)
    except redis.RedisError:
        kept = None
    if kept is not None:
        return [(str(name), int(count)) for name, count in json.loads(kept)]
    rows = catalog_facet(session, partner_id, "categories")
    with contextlib.suppress(redis.RedisError):
        cache.set(key, json.dumps(rows), ex=CATEGORIES_KEPT_SECONDS)
    return rows


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
