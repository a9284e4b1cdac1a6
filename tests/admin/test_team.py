"""Invitations and password resets by one-time links sent through the outbox mailer;
disabling a team member ends their sessions."""

from __future__ import annotations

import re
from email.message import Message

from sqlalchemy import select

from app.auth.models import StaffUser
from app.core.mail import OutgoingMail
from tests.admin.conftest import Staff, make_staff, post_form, sign_in

NEW_PASSWORD = "a brand new passphrase"


def _link(message: Message) -> str:
    body = message.get_payload(decode=True).decode()
    found = re.search(r"http://[^/\s]+(/admin/\S+)", body)
    assert found, body
    return found.group(1)


def test_an_invited_colleague_sets_a_password_once_and_signs_in(
    session, browser_of, partner_a, mailbox
):
    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    sent = post_form(
        portal,
        "/admin/staff",
        {"email": "new.hire@example.com", "name": "New Hire", "role": "support"},
        "/admin/staff/invite",
    )
    assert sent.status_code == 302
    (message,) = mailbox()
    assert message["To"] == "new.hire@example.com"
    link = _link(message)
    # the mail row keeps the body sealed: the link is not readable in the database
    row = session.scalars(select(OutgoingMail)).one()
    assert link.encode() not in row.body_blob and row.sent_at is not None

    newcomer = browser_of()
    assert newcomer.get(link).status_code == 200
    done = post_form(newcomer, link, {"password": NEW_PASSWORD})
    assert done.status_code == 302
    assert newcomer.get(link).status_code == 410  # used up
    invited = Staff(
        session.scalars(
            select(StaffUser.id).where(StaffUser.email == "new.hire@example.com")
        ).one(),
        "new.hire@example.com",
        None,
    )
    assert sign_in(newcomer, invited, password=NEW_PASSWORD).status_code == 302
    assert newcomer.get("/admin/orders").status_code == 200
    assert newcomer.get("/admin/staff").status_code == 403  # support manages no team


def test_a_password_reset_link_sets_a_new_password_and_ends_every_session(
    session, browser_of, partner_a, mailbox
):
    staff = make_staff(session, partner_a.id, "support")
    laptop = browser_of()
    sign_in(laptop, staff)
    unknown = post_form(browser_of(), "/admin/password-reset", {"email": "nobody@example.com"})
    known = post_form(browser_of(), "/admin/password-reset", {"email": staff.email})
    assert unknown.status_code == known.status_code == 302  # the same answer either way
    (message,) = mailbox()
    assert message["To"] == staff.email
    post_form(browser_of(), _link(message), {"password": NEW_PASSWORD})
    assert laptop.get("/admin/orders").status_code == 302  # signed out by the reset
    assert sign_in(browser_of(), staff).status_code == 200  # the old password: refused
    assert sign_in(browser_of(), staff, password=NEW_PASSWORD).status_code == 302


def test_disabling_a_colleague_ends_their_sessions(session, browser_of, partner_a, partner_b):
    owner = make_staff(session, partner_a.id, "owner")
    colleague = make_staff(session, partner_a.id, "viewer")
    stranger = make_staff(session, partner_b.id, "viewer")
    theirs = browser_of()
    sign_in(theirs, colleague)
    portal = browser_of()
    sign_in(portal, owner)
    page = "/admin/staff"
    assert post_form(portal, page, {}, f"/admin/staff/{colleague.id}/disable").status_code == 302
    assert theirs.get("/admin/orders").status_code == 302
    assert sign_in(browser_of(), colleague).status_code == 200  # refused
    # another partner's staff member: not found, untouched
    assert post_form(portal, page, {}, f"/admin/staff/{stranger.id}/disable").status_code == 404
    session.expire_all()
    assert session.get(StaffUser, stranger.id).status == "active"
