"""Portal tests sign staff in through the real pages (forms with their CSRF tokens)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.auth import staff as staff_service
from app.core.db import utcnow
from app.core.queue import drain
from app.core.vault import current_vault
from tests.factories import TEST_ACTOR

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class Staff:
    id: str
    email: str
    totp_secret: str | None


def make_staff(
    session: Session,
    partner_id: str | None,
    role: str,
    *,
    email: str | None = None,
    totp: bool | None = None,
) -> Staff:
    """A staff account; with a TOTP secret already set up when `totp` (default: when the role
    must have one)."""
    staff = staff_service.create_staff(
        session,
        TEST_ACTOR,
        email=email or f"{role}.{partner_id or 'platform'}@example.com".lower(),
        name=role.title(),
        role=role,
        partner_id=partner_id,
        password=PASSWORD,
    )
    secret = None
    if totp if totp is not None else staff_service.needs_totp(staff):
        secret = pyotp.random_base32()
        staff_service.set_totp_secret(current_vault(), staff, secret, utcnow())
    session.commit()
    return Staff(staff.id, staff.email, secret)


def totp_code(secret: str, at: datetime | None = None) -> str:
    return pyotp.TOTP(secret).at(at or utcnow())


def post_form(http: FlaskClient, page: str, data: dict[str, Any], action: str | None = None) -> Any:
    """GET the page, then POST its form (to `action`, default the page) with its CSRF token."""
    html = http.get(page).get_data(as_text=True)
    return http.post(action or page, data={"csrf_token": csrf_of(html), **data})


def sign_in(http: FlaskClient, staff: Staff, *, password: str = PASSWORD) -> Any:
    """The whole sign-in as a person does it; returns the last answer."""
    answer = post_form(http, "/admin/sign-in", {"email": staff.email, "password": password})
    if answer.status_code == 302 and "/admin/sign-in/code" in answer.headers["Location"]:
        assert staff.totp_secret
        answer = post_form(http, "/admin/sign-in/code", {"code": totp_code(staff.totp_secret)})
    return answer


class PortalClient(FlaskClient):
    """Each request in an app context of its own, as in a server: the test's own context would
    share `g` (and Flask-WTF's cached CSRF token) between two people's requests."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def browser_of(app):  # type: ignore[no-untyped-def]
    """A fresh browser (cookie jar) per person."""
    return lambda: PortalClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def portal(browser_of):  # type: ignore[no-untyped-def]
    return browser_of()


@pytest.fixture
def mailbox(app, tmp_path, monkeypatch, empty_queues):
    """The development mailer writes into a folder of the test's own."""
    monkeypatch.setitem(app.config, "MAIL_DIR", str(tmp_path))

    def read() -> list[Message]:
        drain(app)
        return [message_from_bytes(p.read_bytes()) for p in sorted(Path(tmp_path).glob("*.eml"))]

    return read
