"""Every portal route × every role: allowed exactly when the role holds the permissions the
view declares (a 403 page otherwise); every partner route with another partner's ids: 404.
The routes are read from the app, so a new route is covered without touching this file."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.auth.models import StaffSession
from app.billing import invoices, reconciliation
from app.core.db import utcnow
from app.core.principal import PARTNER_ROLES, PLATFORM_PERMISSIONS, PLATFORM_ROLES
from app.core.queue import drain
from app.exports import service as exports
from app.members import grants
from app.orders import aftersales
from app.supply.models import Authorization
from app.supply.suppliers import attach_document
from app.webhooks.endpoints import create_endpoint
from tests.admin.conftest import make_staff, sign_in
from tests.factories import (
    TEST_ACTOR,
    fund,
    make_member,
    make_supplier,
    place,
    sellable_card_key_listing,
    vault_for_tests,
)

# pages that handle a half-signed-in browser themselves (password done, factor pending)
SIGN_IN_FLOW = {
    "admin.sign_in",
    "admin.second_factor",
    "admin.enroll_totp",
    "admin.sign_out",
    "admin.choose_language",
    # one-time links: the token in the path is the credential
    "admin.accept_invitation",
    "admin.request_password_reset",
    "admin.reset_password",
}


def _admin_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            yield rule


@pytest.fixture
def shop(app, session, partner_a, empty_queues):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=10_000, phone="13912345678")
    listing = sellable_card_key_listing(session, partner_a)
    order = place(session, partner_a, member, listing)
    batch, _ = grants.upload(
        session,
        TEST_ACTOR,
        partner_a.id,
        "grants.csv",
        b"m-1,5,,welcome\n",
        timezone=partner_a.timezone,
        approval_threshold=1_000,
        now=utcnow(),
    )
    case = aftersales.open_case(
        session, TEST_ACTOR, partner_a.id, order.id, order.deliveries[0].id, "other", "x", utcnow()
    )
    endpoint = create_endpoint(
        session, TEST_ACTOR, vault_for_tests(), partner_a.id, "http://127.0.0.1:9/h", [],
        allow_private=True,
    ).endpoint  # fmt: skip
    authorization = session.scalars(select(Authorization)).first()
    document = attach_document(session, TEST_ACTOR, authorization, "a.pdf", b"%PDF-1.4\n")
    export = exports.request_export(session, TEST_ACTOR, partner_a.id, "members", None, None)
    run = reconciliation.reconcile_statement(
        session,
        TEST_ACTOR,
        make_supplier(session, "Upstream M"),
        b"reference,supplier_order_no,status,amount,completed_at\n"
        b"dlv_01nosuchdelivery000000000,SO-1,success,20.00,\n",
        date(2026, 1, 1),
        date(2026, 1, 2),
    )
    session.commit()
    drain(app)
    invoice, _ = invoices.generate_invoice(session, TEST_ACTOR, partner_a, "2026-01")
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id)
    session.commit()
    return {
        "invoice_id": invoice.id,
        "endpoint_id": endpoint.id,
        "fmt": "csv",
        "order_id": order.id,
        "external_id": member.external_id,
        "batch_id": batch.id,
        "case_id": case.id,
        "listing_id": listing.id,
        "export_id": export.id,
        "partner_id": partner_a.id,
        "product_id": listing.product_id,
        "reconciliation_id": run.id,
        "authorization_id": authorization.id,
        "document_id": document.id,
    }


def _path(rule, ids: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:  # <name> or <converter(...):name>
        path = re.sub(rf"<(?:[^<>:]+:)?{name}>", ids[name], path)
    return path


def test_every_portal_route_declares_its_permissions(app):
    undeclared = [
        rule.rule
        for rule in _admin_rules(app)
        if rule.endpoint not in SIGN_IN_FLOW
        and getattr(app.view_functions[rule.endpoint], "required_permissions", None) is None
    ]
    assert not undeclared, "portal routes without @requires(..., via=STAFF):\n" + "\n".join(
        undeclared
    )


def test_signed_out_browsers_are_sent_to_sign_in(app, portal, shop):
    for rule in _admin_rules(app):
        if rule.endpoint in SIGN_IN_FLOW or "GET" not in rule.methods:
            continue
        answer = portal.get(_path(rule, shop))
        assert answer.status_code == 302, rule.rule
        assert "/admin/sign-in" in answer.headers["Location"], rule.rule


ROLES = [("partner", role) for role in PARTNER_ROLES] + [("platform", r) for r in PLATFORM_ROLES]


@pytest.mark.parametrize("kind,role", ROLES)
def test_role_by_route_matrix(app, session, browser_of, partner_a, shop, kind, role):
    granted = (PARTNER_ROLES if kind == "partner" else PLATFORM_ROLES)[role]
    staff = make_staff(session, partner_a.id if kind == "partner" else None, role)
    portal = browser_of()
    sign_in(portal, staff)
    own_session = session.scalars(
        select(StaffSession.id).where(StaffSession.staff_id == staff.id)
    ).first()
    ids = {**shop, "session_id": own_session}
    checked = 0
    for rule in _admin_rules(app):
        if rule.endpoint in SIGN_IN_FLOW or "GET" not in rule.methods:
            continue
        needed = set(app.view_functions[rule.endpoint].required_permissions)
        partner_page = bool(needed) and not needed & set(PLATFORM_PERMISSIONS)
        allowed = needed <= granted and not (partner_page and kind == "platform")
        answer = portal.get(_path(rule, ids))
        if allowed:
            assert answer.status_code in (200, 302), (role, rule.rule, answer.status_code)
            if answer.status_code == 302:
                assert "sign-in" not in answer.headers["Location"], (role, rule.rule)
        else:
            assert answer.status_code == 403, (role, rule.rule, answer.status_code)
            assert "text/html" in answer.content_type
        checked += 1
    assert checked >= 7


def test_staff_of_another_partner_sees_none_of_its_rows(
    app, session, browser_of, partner_a, partner_b, shop
):
    """B's owner holds every partner permission: A's ids still answer 404, A's rows appear in
    no list."""
    owner_b = make_staff(session, partner_b.id, "owner")
    portal = browser_of()
    sign_in(portal, owner_b)
    for rule in _admin_rules(app):
        if "GET" not in rule.methods or not {
            "order_id",
            "external_id",
            "batch_id",
            "case_id",
            "listing_id",
            "export_id",
        } & set(rule.arguments):
            continue
        answer = portal.get(_path(rule, shop))
        assert answer.status_code == 404, rule.rule
    for page in ("/admin/orders", "/admin/members", "/admin/", "/admin/orders?member=m-1"):
        html = portal.get(page).get_data(as_text=True)
        assert shop["order_id"] not in html, page
    assert "m-1" not in portal.get("/admin/members").get_data(as_text=True)
    assert portal.get("/admin/members?q=m-1").get_data(as_text=True).count(">m-1<") == 0
