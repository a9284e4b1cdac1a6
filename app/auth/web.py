"""The staff credential of the admin portal: a session cookie (app/auth/staff.py). Registered
as the `staff` authenticator, so portal views declare `@requires(permission, via=STAFF)`."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, g, request

from app.auth import staff as staff_service
from app.auth.models import StaffSession
from app.core.db import utcnow
from app.core.principal import Principal, register_authenticator
from app.extensions import db

STAFF = "staff"


def session_policy() -> staff_service.SessionPolicy:
    return staff_service.SessionPolicy(
        idle=timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"]),
        absolute=timedelta(hours=current_app.config["STAFF_SESSION_HOURS"]),
    )


def current_staff_session() -> StaffSession | None:
    """The request's live staff session, verified or still awaiting its second factor."""
    key = "quanyi.staff_session"  # read once per request (not in `g`: tests share one app context)
    if key not in request.environ:
        token = request.cookies.get(staff_service.SESSION_COOKIE)
        request.environ[key] = (
            staff_service.session_for(db.session(), token, utcnow(), session_policy())
            if token
            else None
        )
    found: StaffSession | None = request.environ[key]
    return found


def authenticate_staff() -> Principal | None:
    found = current_staff_session()
    if found is None or found.verified_at is None:
        return None
    staff = found.staff
    g.preferred_locale = staff.locale
    return Principal("staff", staff.id, staff.partner_id, staff_service.permissions_of(staff))


def init_staff_auth(app: Flask) -> None:
    register_authenticator(app, STAFF, authenticate_staff)
