"""Staff accounts: password, second factor (TOTP, recovery codes), lockout, sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import lockout
from app.auth.models import StaffSession, StaffUser
from app.core.audit import AuditLog
from app.core.db import utcnow
from tests.admin.conftest import (
    PASSWORD,
    csrf_of,
    make_staff,
    post_form,
    sign_in,
    totp_code,
)


def test_wrong_password_is_refused_and_audited(session, portal, partner_a):
    staff = make_staff(session, partner_a.id, "support")
    answer = sign_in(portal, staff, password="not the password!")
    assert answer.status_code == 200
    assert "邮箱或密码错误" in answer.get_data(as_text=True)  # zh-CN by default
    assert portal.get("/admin/orders").status_code == 302  # still signed out
    actions = session.scalars(select(AuditLog.action).where(AuditLog.target_id == staff.id))
    assert "staff.sign_in_failed" in list(actions)


def test_a_role_without_second_factor_signs_in_with_its_password(session, portal, partner_a):
    staff = make_staff(session, partner_a.id, "support")
    answer = sign_in(portal, staff)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/")
    assert portal.get("/admin/orders").status_code == 200
    cookie = portal.get_cookie("quanyi_staff", path="/admin")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_owner_must_enrol_totp_then_gets_recovery_codes_once(session, portal, partner_a):
    staff = make_staff(session, partner_a.id, "owner", totp=False)
    answer = post_form(portal, "/admin/sign-in", {"email": staff.email, "password": PASSWORD})
    assert answer.headers["Location"].endswith("/admin/account/totp")
    assert portal.get("/admin/orders").status_code == 302  # nothing opens before the factor
    page = portal.get("/admin/account/totp").get_data(as_text=True)
    secret = page.split('data-testid="totp-secret">')[1].split("<")[0]
    wrong = portal.post(
        "/admin/account/totp",
        data={"csrf_token": csrf_of(page), "secret": secret, "code": "000000"},
    )
    assert "recovery-codes" not in wrong.get_data(as_text=True)
    done = portal.post(
        "/admin/account/totp",
        data={"csrf_token": csrf_of(page), "secret": secret, "code": totp_code(secret)},
    )
    codes = done.get_data(as_text=True).split('data-testid="recovery-codes">')[1]
    assert codes.count("<code>") == 10
    assert portal.get("/admin/orders").status_code == 200
    row = session.get(StaffUser, staff.id)
    session.refresh(row)
    assert row.has_totp and len(row.recovery_code_hashes) == 10


def test_totp_code_is_needed_and_never_accepted_twice(session, browser_of, partner_a):
    staff = make_staff(session, partner_a.id, "admin")
    first = browser_of()
    assert sign_in(first, staff).status_code == 302
    assert first.get("/admin/orders").status_code == 200
    # the same code again, in another browser: refused (a replayed code)
    second = browser_of()
    post_form(second, "/admin/sign-in", {"email": staff.email, "password": PASSWORD})
    again = post_form(second, "/admin/sign-in/code", {"code": totp_code(staff.totp_secret)})
    assert again.status_code == 200 and "验证码无效" in again.get_data(as_text=True)
    assert second.get("/admin/orders").status_code == 302


def test_a_recovery_code_works_once(session, browser_of, partner_a):
    staff = make_staff(session, partner_a.id, "owner", totp=False)
    http = browser_of()
    post_form(http, "/admin/sign-in", {"email": staff.email, "password": PASSWORD})
    page = http.get("/admin/account/totp").get_data(as_text=True)
    secret = page.split('data-testid="totp-secret">')[1].split("<")[0]
    done = http.post(
        "/admin/account/totp",
        data={"csrf_token": csrf_of(page), "secret": secret, "code": totp_code(secret)},
    ).get_data(as_text=True)
    recovery = done.split('data-testid="recovery-codes">')[1].split("<code>")[1].split("<")[0]
    for attempt, expected in ((1, 302), (2, 200)):
        other = browser_of()
        post_form(other, "/admin/sign-in", {"email": staff.email, "password": PASSWORD})
        answer = post_form(other, "/admin/sign-in/code", {"code": recovery})
        assert answer.status_code == expected, attempt


def test_repeated_failures_lock_the_email_out(app, session, portal, partner_a):
    staff = make_staff(session, partner_a.id, "viewer")
    for _ in range(lockout.MAX_FAILURES_PER_ADDRESS):
        assert sign_in(portal, staff, password="wrong password!!").status_code == 200
    locked = sign_in(portal, staff)  # the right password no longer helps
    assert locked.status_code == 429
    assert portal.get("/admin/orders").status_code == 302


def test_sessions_end_when_idle_past_their_end_or_signed_out_everywhere(
    session, browser_of, partner_a
):
    staff = make_staff(session, partner_a.id, "support")
    laptop, phone = browser_of(), browser_of()
    sign_in(laptop, staff)
    sign_in(phone, staff)
    assert laptop.get("/admin/orders").status_code == 200

    # idle for longer than the idle timeout: signed out
    rows = session.scalars(select(StaffSession).where(StaffSession.staff_id == staff.id)).all()
    rows[0].last_seen_at = utcnow() - timedelta(minutes=31)
    # past the absolute end, however active
    rows[1].expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert laptop.get("/admin/orders").status_code == 302
    assert phone.get("/admin/orders").status_code == 302

    sign_in(laptop, staff)
    sign_in(phone, staff)
    page = laptop.get("/admin/account").get_data(as_text=True)
    assert page.count("<tr>") >= 3  # header + two sessions
    laptop.post("/admin/account/sessions/end-all", data={"csrf_token": csrf_of(page)})
    assert phone.get("/admin/orders").status_code == 302
    assert laptop.get("/admin/orders").status_code == 302


def test_a_form_without_its_csrf_token_changes_nothing(session, portal, partner_a):
    staff = make_staff(session, partner_a.id, "support")
    sign_in(portal, staff)
    refused = portal.post("/admin/account/sessions/end-all")
    assert refused.status_code == 400
    assert portal.get("/admin/orders").status_code == 200  # still signed in


@pytest.mark.parametrize("locale,expected", [("en", "Orders"), ("zh_CN", "订单")])
def test_language_switch_is_remembered(session, portal, partner_a, locale, expected):
    staff = make_staff(session, partner_a.id, "support")
    sign_in(portal, staff)
    post_form(
        portal, "/admin/orders", {"locale": locale, "next": "/admin/orders"}, "/admin/language"
    )
    assert f"<h1>{expected}</h1>" in portal.get("/admin/orders").get_data(as_text=True)
    session.expire_all()
    assert session.get(StaffUser, staff.id).locale == locale


def test_pages_carry_strict_security_headers(session, portal, partner_a):
    page = portal.get("/admin/sign-in")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in page.get_data(as_text=True)  # no inline script
