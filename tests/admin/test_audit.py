"""Every portal action lands in the audit log with the staff member as actor; the partner
reads its log in the portal (filtered, exported as CSV) and through the API for its SIEM."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from app.core.audit import AuditLog
from tests.admin.conftest import make_staff, post_form, sign_in
from tests.factories import ApiUser, make_client


def test_portal_actions_are_audited_with_the_staff_member_as_actor(session, browser_of, partner_a):
    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    post_form(
        portal,
        "/admin/staff",
        {"email": "x@example.com", "name": "X", "role": "viewer"},
        "/admin/staff/invite",
    )
    post_form(portal, "/admin/account", {}, "/admin/account/sessions/end-all")
    rows = session.scalars(
        select(AuditLog).where(AuditLog.actor_id == owner.id).order_by(AuditLog.id)
    ).all()
    actions = [row.action for row in rows]
    assert actions[0] == "staff.signed_in"
    assert "staff.second_factor" in actions
    assert "staff.created" in actions and actions[-1] == "staff.signed_out_everywhere"
    assert {row.actor_kind for row in rows} == {"staff"}
    assert all(row.partner_id == partner_a.id for row in rows)


def test_the_audit_page_filters_exports_and_shows_no_other_partner(
    session, browser_of, client, partner_a, partner_b
):
    finance = make_staff(session, partner_a.id, "finance")
    make_staff(session, partner_b.id, "owner", email="owner@b.example")  # B's own audit rows
    portal = browser_of()
    sign_in(portal, finance)
    page = portal.get("/admin/audit?action=staff.").get_data(as_text=True)
    assert "staff.signed_in" in page and "owner@b.example" not in page
    exported = portal.get("/admin/audit.csv?action=staff.created")
    assert exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows and {row["action"] for row in rows} == {"staff.created"}
    assert all("owner@b.example" not in row["after"] for row in rows)
    assert browser_of().get("/admin/audit.csv").status_code == 302  # signed out: no export


def test_partners_read_their_audit_events_through_the_api(session, client, partner_a, partner_b):
    make_staff(session, partner_a.id, "viewer", email="viewer@a.example")
    make_staff(session, partner_b.id, "viewer", email="viewer@b.example")
    api = ApiUser.login(client, make_client(session, partner_a))
    answer = api.get("/api/v1/audit-events?action=staff.created")
    assert answer.status_code == 200
    events = answer.get_json()["data"]
    assert [e["after"]["email"] for e in events] == ["viewer@a.example"]
    assert events[0]["actor"] == {"kind": "system", "id": "tests"}
    assert events[0]["target"]["type"] == "staff"
    narrow = ApiUser.login(client, make_client(session, partner_a, scopes=["orders:read"]))
    assert narrow.get("/api/v1/audit-events").status_code == 403
