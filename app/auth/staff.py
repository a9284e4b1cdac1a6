"""Staff accounts of the admin portal: passwords, the TOTP second factor with recovery codes,
lockout, and server-side sessions with idle and absolute timeouts.

A staff member belongs to one partner (or to the platform) and holds one role; the role maps
onto the permission table of app/core/principal.py, the same names as the API's scopes. Every
sign-in, failure, factor change and sign-out is audited with the staff member as actor.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import redis
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth import lockout
from app.auth.models import StaffSession, StaffToken, StaffUser
from app.auth.service import hash_secret, hash_token, matches_hash, waste_a_verification
from app.core.audit import Actor, record_audit
from app.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.core.mail import queue_mail
from app.core.principal import PARTNER_ROLES, PLATFORM_ROLES
from app.core.vault import Vault

MIN_PASSWORD_LENGTH = 12
RECOVERY_CODES = 10
TOTP_ISSUER = "Quanyi"
# roles whose holders must use a second factor (all platform staff must too)
TOTP_REQUIRED_ROLES = frozenset({"owner", "admin"})
SESSION_COOKIE = "quanyi_staff"
INVITATION_VALID_FOR = timedelta(days=7)
RESET_VALID_FOR = timedelta(hours=1)
_TOTP_CONTEXT = "staff-totp:"


class SignInLocked(DomainError):
    code = "sign_in_locked"


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SignedIn:
    session: StaffSession
    token: str  # the cookie's value: shown to the browser once, stored as a digest


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _lockout_identity(email: str) -> str:
    """Failed passwords and failed codes count together, per account (app/auth/lockout.py)."""
    return f"staff:{normalize_email(email)}"


def roles_for(partner_id: str | None) -> dict[str, frozenset[str]]:
    return PLATFORM_ROLES if partner_id is None else PARTNER_ROLES


def permissions_of(staff: StaffUser) -> frozenset[str]:
    return roles_for(staff.partner_id).get(staff.role, frozenset())


def needs_totp(staff: StaffUser) -> bool:
    return staff.partner_id is None or staff.role in TOTP_REQUIRED_ROLES


def actor_of(staff: StaffUser, ip: str | None = None) -> Actor:
    return Actor("staff", staff.id, ip=ip)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed({"password": [f"Use at least {MIN_PASSWORD_LENGTH} characters."]})


def create_staff(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str,
    partner_id: str | None,
    password: str | None,
) -> StaffUser:
    """An account that signs in with `password`; without one, an invited account that can
    sign in once it has set its password from the invitation (`invite`)."""
    if role not in roles_for(partner_id):
        kind = "platform" if partner_id is None else "partner"
        raise ValidationFailed(
            {"role": [f"A {kind} role: {', '.join(sorted(roles_for(partner_id)))}."]}
        )
    if password is not None:
        check_password(password)
    email = normalize_email(email)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)):
        raise Conflict("A staff account with this email exists.", field="email")
    staff = StaffUser(
        partner_id=partner_id,
        email=email,
        name=name,
        role=role,
        status="active" if password is not None else "invited",
        # an invited account has a password nobody knows until it sets its own
        password_hash=hash_secret(password or secrets.token_urlsafe(32)),
        recovery_code_hashes=[],
    )
    session.add(staff)
    session.flush()
    record_audit(
        session,
        actor,
        "staff.created",
        "staff",
        staff.id,
        partner_id=partner_id,
        after={"email": email, "role": role},
    )
    return staff


def find_staff(session: Session, email: str) -> StaffUser | None:
    return session.scalars(
        select(StaffUser).where(StaffUser.email == normalize_email(email))
    ).first()


# --- signing in --------------------------------------------------------------------------


def sign_in(
    session: Session,
    conn: redis.Redis,
    email: str,
    password: str,
    *,
    ip: str | None,
    user_agent: str | None,
    now: datetime,
    policy: SessionPolicy,
) -> SignedIn | None:
    """A new session for the right email and password; None for a wrong pair (audited when
    the email is a staff member's: the caller commits it). The session is verified at once
    only for staff who need no second factor and have none; others give theirs next (or enrol
    first). Past the lockout threshold, per email and per address, nothing is checked."""
    identity = _lockout_identity(email)
    retry_after = lockout.locked_for(conn, identity, ip)
    if retry_after is not None:
        raise SignInLocked("Too many failed attempts; try again later.", retry_after=retry_after)
    staff = find_staff(session, email)
    if staff is None:
        waste_a_verification()
    if staff is None or staff.status != "active" or not matches_hash(staff.password_hash, password):
        lockout.record_failure(conn, identity, ip)
        if staff is not None:
            _audit(session, staff, ip, "staff.sign_in_failed", {"reason": "password"})
        return None
    token = secrets.token_urlsafe(32)
    verified = None if (staff.has_totp or needs_totp(staff)) else now
    staff_session = StaffSession(
        staff_id=staff.id,
        token_hash=hash_token(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        verified_at=verified,
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(staff_session)
    staff_session.staff = staff
    if verified is not None:
        staff.last_sign_in_at = now
    _audit(session, staff, ip, "staff.signed_in", {"session_id": staff_session.id})
    return SignedIn(staff_session, token)


def session_for(
    session: Session, token: str, now: datetime, policy: SessionPolicy
) -> StaffSession | None:
    """The live session of a cookie: not revoked, not past its absolute end, not idle for
    longer than the idle timeout, its staff member active. Each use moves its idle clock
    (written at most once a minute)."""
    found = session.scalars(
        select(StaffSession).where(StaffSession.token_hash == hash_token(token))
    ).first()
    if (
        found is None
        or found.revoked_at is not None
        or found.expires_at <= now
        or found.last_seen_at + policy.idle <= now
        or found.staff.status != "active"
    ):
        return None
    if now - found.last_seen_at > timedelta(minutes=1):
        found.last_seen_at = now
    return found


def verify_second_factor(
    session: Session,
    conn: redis.Redis,
    vault: Vault,
    staff_session: StaffSession,
    code: str,
    *,
    ip: str | None,
    now: datetime,
) -> bool:
    """A TOTP code (never the same one twice) or an unused recovery code (then used up)
    verifies the session. Failures count toward the lockout like wrong passwords."""
    staff = staff_session.staff
    identity = _lockout_identity(staff.email)
    if lockout.locked_for(conn, identity, ip) is not None:
        raise SignInLocked("Too many failed attempts; try again later.")
    code = code.strip().replace(" ", "")
    how = None
    if staff.has_totp and code.isdigit() and _accept_totp(vault, staff, code, now):
        how = "totp"
    elif _use_recovery_code(staff, code):
        how = "recovery_code"
    if how is None:
        lockout.record_failure(conn, identity, ip)
        _audit(session, staff, ip, "staff.sign_in_failed", {"reason": "second_factor"})
        return False
    staff_session.verified_at = now
    staff.last_sign_in_at = now
    _audit(session, staff, ip, "staff.second_factor", {"method": how})
    return True


def _accept_totp(vault: Vault, staff: StaffUser, code: str, now: datetime) -> bool:
    totp = pyotp.TOTP(_totp_secret(vault, staff))
    for drift in (-1, 0, 1):  # one step of clock drift either way
        step = int(now.timestamp()) // totp.interval + drift
        if staff.totp_last_step is not None and step <= staff.totp_last_step:
            continue
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            staff.totp_last_step = step
            return True
    return False


def _use_recovery_code(staff: StaffUser, code: str) -> bool:
    digest = _recovery_digest(code)
    if digest not in (staff.recovery_code_hashes or []):
        return False
    staff.recovery_code_hashes = [h for h in staff.recovery_code_hashes if h != digest]
    return True


def _recovery_digest(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def _totp_secret(vault: Vault, staff: StaffUser) -> str:
    assert staff.totp_key_id is not None and staff.totp_blob is not None
    return vault.open(staff.totp_key_id, staff.totp_blob, _TOTP_CONTEXT + staff.id)


# --- enrolling a second factor --------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(staff: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=staff.email, issuer_name=TOTP_ISSUER)


def enable_totp(
    session: Session,
    vault: Vault,
    staff_session: StaffSession,
    secret: str,
    code: str,
    *,
    ip: str | None,
    now: datetime,
) -> list[str] | None:
    """Turn on TOTP with `secret` once the app shows a matching code; returns the recovery
    codes (shown once), or None when the code does not match. The enrolling session counts
    as verified by it."""
    staff = staff_session.staff
    totp = pyotp.TOTP(secret)
    if not totp.verify(code.strip(), for_time=now, valid_window=1):
        return None
    set_totp_secret(vault, staff, secret, now)
    staff.totp_last_step = int(now.timestamp()) // totp.interval
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    staff.recovery_code_hashes = [_recovery_digest(c) for c in codes]
    staff_session.verified_at = now
    staff.last_sign_in_at = now
    _audit(session, staff, ip, "staff.totp_enabled", {})
    return codes


def set_totp_secret(vault: Vault, staff: StaffUser, secret: str, now: datetime) -> None:
    """Seal the secret (bound to this staff member) and turn the second factor on."""
    sealed = vault.seal(secret, _TOTP_CONTEXT + staff.id)
    staff.totp_key_id, staff.totp_blob = sealed.key_id, sealed.blob
    staff.totp_enabled_at = now


def reseal_totp(session: Session, vault: Vault, limit: int = 500) -> int:
    """Re-seal up to `limit` TOTP secrets not sealed by the current key (key rotation)."""
    staff = session.scalars(
        select(StaffUser)
        .where(StaffUser.totp_key_id.is_not(None), StaffUser.totp_key_id != vault.current_key_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for member in staff:
        assert member.totp_enabled_at is not None
        set_totp_secret(vault, member, _totp_secret(vault, member), member.totp_enabled_at)
    return len(staff)


def totp_key_usage(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(StaffUser.totp_key_id, func.count())
        .where(StaffUser.totp_key_id.is_not(None))
        .group_by(StaffUser.totp_key_id)
    )
    return {str(key_id): int(count) for key_id, count in rows}


def _new_recovery_code() -> str:
    raw = secrets.token_hex(5)  # 40 bits, ten hex digits
    return f"{raw[:5]}-{raw[5:]}"


# --- sessions ----------------------------------------------------------------------------


def list_sessions(session: Session, staff: StaffUser, now: datetime) -> list[StaffSession]:
    return list(
        session.scalars(
            select(StaffSession)
            .where(
                StaffSession.staff_id == staff.id,
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > now,
            )
            .order_by(StaffSession.id.desc())
        )
    )


def sign_out(
    session: Session, staff: StaffUser, session_id: str, *, ip: str | None, now: datetime
) -> None:
    """End one of the staff member's own sessions (404 for anyone else's)."""
    ended = session.execute(
        update(StaffSession)
        .where(
            StaffSession.id == session_id,
            StaffSession.staff_id == staff.id,
            StaffSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    if not ended.rowcount:  # type: ignore[attr-defined]
        raise NotFound("Session not found.")
    _audit(session, staff, ip, "staff.signed_out", {"session_id": session_id})


def end_sessions(session: Session, staff: StaffUser, now: datetime) -> int:
    """End every live session of the account (sign out everywhere, a password set by link, a
    disabled account); returns how many."""
    ended = session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    count: int = ended.rowcount  # type: ignore[attr-defined]
    return count


def sign_out_everywhere(
    session: Session, staff: StaffUser, *, ip: str | None, now: datetime
) -> int:
    count = end_sessions(session, staff, now)
    _audit(session, staff, ip, "staff.signed_out_everywhere", {"sessions": count})
    return count


def _audit(
    session: Session, staff: StaffUser, ip: str | None, action: str, after: dict[str, object]
) -> None:
    record_audit(
        session,
        actor_of(staff, ip),
        action,
        "staff",
        staff.id,
        partner_id=staff.partner_id,
        after=after,
    )


# --- invitations and password resets (one-time links by mail) ------------------------------


def invite(
    session: Session,
    actor: Actor,
    vault: Vault,
    *,
    email: str,
    name: str,
    role: str,
    partner_id: str | None,
    link_base: str,
    now: datetime,
) -> StaffUser:
    """A new staff account, invited by mail: the link (valid 7 days) lets them set a password."""
    staff = create_staff(
        session, actor, email=email, name=name, role=role, partner_id=partner_id, password=None
    )
    token = _new_token(session, staff, "invitation", now + INVITATION_VALID_FOR)
    queue_mail(
        session,
        vault,
        staff.email,
        "Quanyi 管理后台邀请 / Your invitation to the Quanyi admin portal",
        f"{name}，您好：\n\n您已受邀使用 Quanyi 管理后台（角色：{role}）。"
        f"请在 7 天内打开以下链接设置密码：\n"
        f"{link_base}/{token}\n\n"
        f"Hello {name},\n\nYou are invited to the Quanyi admin portal (role: {role}). Open"
        f" this link within 7 days to set your password:\n{link_base}/{token}\n",
    )
    return staff


def request_password_reset(
    session: Session, vault: Vault, email: str, *, link_base: str, now: datetime
) -> None:
    """Mail a reset link (valid 1 hour) to an active account; for an unknown email nothing
    happens, and the caller says the same either way (no account oracle)."""
    staff = find_staff(session, email)
    if staff is None or staff.status != "active":
        return
    token = _new_token(session, staff, "password_reset", now + RESET_VALID_FOR)
    queue_mail(
        session,
        vault,
        staff.email,
        "Quanyi 重置密码 / Reset your Quanyi password",
        f"请在 1 小时内打开以下链接重置密码（如非本人操作，请忽略）：\n{link_base}/{token}\n\n"
        f"Open this link within an hour to choose a new password (ignore this mail if you did"
        f" not ask):\n{link_base}/{token}\n",
    )


def token_for(session: Session, token: str, now: datetime) -> StaffToken | None:
    """The live one-time token of a link: unused, not expired."""
    found = session.scalars(
        select(StaffToken).where(StaffToken.token_hash == hash_token(token)).with_for_update()
    ).first()
    if found is None or found.used_at is not None or found.expires_at <= now:
        return None
    return found


def set_password_with_token(
    session: Session, token: StaffToken, password: str, *, ip: str | None, now: datetime
) -> StaffUser:
    """Use the link once: the password is set, an invited account becomes active, and every
    session of the account ends (a reset after a theft signs the thief out)."""
    check_password(password)
    staff = session.get_one(StaffUser, token.staff_id)
    token.used_at = now
    staff.password_hash = hash_secret(password)
    if staff.status == "invited":
        staff.status = "active"
    end_sessions(session, staff, now)
    _audit(session, staff, ip, f"staff.{token.purpose}_used", {})
    return staff


def _new_token(session: Session, staff: StaffUser, purpose: str, expires_at: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        StaffToken(
            staff_id=staff.id,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=expires_at,
        )
    )
    return token


# --- managing a team ---------------------------------------------------------------------


def list_staff(session: Session, partner_id: str | None) -> list[StaffUser]:
    """A partner's staff (None: the platform's), by email."""
    owner = (
        StaffUser.partner_id.is_(None) if partner_id is None else StaffUser.partner_id == partner_id
    )
    return list(session.scalars(select(StaffUser).where(owner).order_by(StaffUser.email)))


def get_team_member(session: Session, partner_id: str | None, staff_id: str) -> StaffUser:
    """One of the same team (another team's id answers 404)."""
    found = session.get(StaffUser, staff_id)
    if found is None or found.partner_id != partner_id:
        raise NotFound("Staff member not found.")
    return found


def set_status(
    session: Session, actor: Actor, staff: StaffUser, status: str, *, now: datetime
) -> None:
    """Disable (every session ends at once) or enable again."""
    if status not in ("active", "disabled") or status == staff.status:
        return
    if actor.id == staff.id:
        raise Conflict("You cannot disable your own account.")
    before = staff.status
    staff.status = status
    if status == "disabled":
        end_sessions(session, staff, now)
    record_audit(
        session,
        actor,
        "staff.status_changed",
        "staff",
        staff.id,
        partner_id=staff.partner_id,
        before={"status": before},
        after={"status": status},
    )
