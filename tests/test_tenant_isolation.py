"""Tenant isolation, walked over every route the app serves, so new routes are covered as they
are added: a partner's token reaches another partner's rows nowhere (404), sees none of them in
any list, and cannot use any platform route (403).

A new partner route with a path parameter must register here how to make partner B's row for
that parameter (OWNED_BY_B) and, when it takes a body, a valid body (BODIES); otherwise the walk
fails and says what is missing.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing import invoices
from app.core.db import utcnow
from app.entitlements.models import Entitlement
from app.members.models import Member
from app.orders import aftersales
from app.orders.models import Case, Order
from app.partners.models import Listing, Partner
from app.webhooks.endpoints import create_endpoint
from app.webhooks.models import Event, WebhookEndpoint
from tests.factories import (
    TEST_ACTOR,
    fund,
    make_member,
    place,
    sellable_card_key_listing,
    vault_for_tests,
)


def _b_member(session: Session, partner: Partner) -> str:
    return make_member(session, partner, "b-member", points=5000).external_id


def _b_listing(session: Session, partner: Partner) -> str:
    return _b_order_parts(session, partner)[0].id


def _b_order(session: Session, partner: Partner) -> str:
    return _b_order_parts(session, partner)[1].id


def _b_entitlement(session: Session, partner: Partner) -> str:
    order = session.get_one(Order, _b_order(session, partner))
    return session.scalars(select(Entitlement.id).where(Entitlement.order_id == order.id)).first()


def _b_order_parts(session: Session, partner: Partner):
    """One listing, member and fulfilled card-key order of partner B (made once per test)."""
    listing = session.scalars(select(Listing).where(Listing.partner_id == partner.id)).first()
    if listing is None:
        fund(session, partner)
        listing = sellable_card_key_listing(session, partner, codes=3)
        member = make_member(session, partner, "b-member", points=5000)
        place(session, partner, member, listing)
    order = session.scalars(select(Order).where(Order.partner_id == partner.id)).first()
    return listing, order


def _b_endpoint(session: Session, partner: Partner) -> str:
    existing = session.scalars(
        select(WebhookEndpoint.id).where(WebhookEndpoint.partner_id == partner.id)
    ).first()
    if existing:
        return existing
    issued = create_endpoint(
        session,
        TEST_ACTOR,
        vault_for_tests(),
        partner.id,
        "http://127.0.0.1:9/hook",
        [],
        allow_private=True,
    )
    session.commit()
    return issued.endpoint.id


def _b_event(session: Session, partner: Partner) -> str:
    _b_order_parts(session, partner)
    return session.scalars(select(Event.id).where(Event.partner_id == partner.id)).first()


def _b_case(session: Session, partner: Partner) -> str:
    """An open after-sales case on B's delivered unit."""
    order = session.get_one(Order, _b_order(session, partner))
    existing = session.scalars(select(Case.id).where(Case.partner_id == partner.id)).first()
    if existing:
        return existing
    case = aftersales.open_case(
        session, TEST_ACTOR, partner.id, order.id, order.deliveries[0].id, "other", "walk", utcnow()
    )
    session.commit()
    return case.id


def _b_invoice(session: Session, partner: Partner) -> str:
    """B's issued invoice (partners never see drafts, so a draft would prove nothing)."""
    invoice, _ = invoices.generate_invoice(session, TEST_ACTOR, partner, "2026-01")
    if invoice.status == "draft":
        invoices.issue_invoice(session, TEST_ACTOR, invoice.id)
    session.commit()
    return invoice.id


def _b_launch_key(session: Session, partner: Partner) -> str:
    from joserfc.jwk import RSAKey

    from app.mall.service import register_launch_key

    pem = RSAKey.generate_key(2048).as_pem(private=False).decode()
    key = register_launch_key(session, TEST_ACTOR, partner.id, "b-key", pem)
    session.commit()
    return key.kid


def _b_points_move(session: Session, partner: Partner) -> str:
    """A refund sent to B's own points ledger (read by A only through its lists)."""
    from app.members.external import refund_for_order

    order = session.get_one(Order, _b_order(session, partner))
    move = refund_for_order(session, partner.id, order.member_id, order.id, 1, "walk")
    session.commit()
    return move.id


OWNED_BY_B: dict[str, Callable[[Session, Partner], str]] = {
    "points_move": _b_points_move,  # no route takes its id: only the list walk uses it
    "kid": _b_launch_key,
    "endpoint_id": _b_endpoint,
    "event_id": _b_event,
    "external_id": _b_member,
    "listing_id": _b_listing,
    "order_id": _b_order,
    "entitlement_id": _b_entitlement,
    "invoice_id": _b_invoice,
    "case_id": _b_case,
}
BODIES: dict[str, dict] = {
    "members.move_points": {"type": "grant", "amount": 10, "reason": "walk"},
    "members.upsert_member": {"display_name": "walker"},
    "orders.cancel_order": {},
    "orders.open_case": {"delivery_id": "dlv_x", "kind": "other", "description": "walk"},
    "entitlements.reveal_entitlement": {},
    "webhooks.rotate_secret": {},
    "webhooks.test_endpoint": {},
    "webhooks.replay_event": {},
    "mall_api.launch": {},  # without create_member: B's member is not A's to send anywhere
    "mall_api.revoke_launch_key": {},
}
# Routes whose path names the caller's own namespace rather than a row: PUT of B's external id
# creates A's own member of that id. What must hold there: B's member is untouched.
NAMESPACED = {("PUT", "/api/v1/members/<external_id>")}
SKIP_PREFIXES = ("/api/v1/docs", "/api/v1/openapi.json")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _rules(app: Flask, platform: bool):
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if not path.startswith("/api/v1/") or path.startswith(SKIP_PREFIXES):
            continue
        if rule.endpoint.startswith("apidocs."):  # the published documents: public
            continue
        if path.startswith("/api/v1/platform/") != platform:
            continue
        for method in sorted(rule.methods & set(METHODS)):
            yield rule, method


def _fill(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<{name}>", values[name])
    return path


def _call(api, method: str, path: str, endpoint: str):
    kwargs: dict = {"headers": {"Idempotency-Key": f"walk-{method}-{path}"}}
    if getattr(api.http.application.view_functions[endpoint], "accepts_multipart", False):
        kwargs["data"] = {"file": (io.BytesIO(b"code\nX1\n"), "walk.csv")}
        kwargs["content_type"] = "multipart/form-data"
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = BODIES.get(endpoint, {})
    return api.call(method, path, **kwargs)


def test_partner_routes_answer_404_for_another_partners_ids(app, session, api_a, partner_b):
    b_ids = {name: make(session, partner_b) for name, make in OWNED_BY_B.items()}
    walked = 0
    # namespaced routes last: they create A's own row under B's external id
    ordered = sorted(_rules(app, platform=False), key=lambda rm: (rm[1], rm[0].rule) in NAMESPACED)
    for rule, method in ordered:
        if not rule.arguments:
            continue
        missing = set(rule.arguments) - set(b_ids)
        assert not missing, f"{rule.rule}: add OWNED_BY_B factories for {sorted(missing)}"
        if method in ("POST", "PUT", "PATCH"):
            assert rule.endpoint in BODIES, f"{method} {rule.rule}: add a valid body to BODIES"
        response = _call(api_a, method, _fill(rule, b_ids), rule.endpoint)
        walked += 1
        if (method, rule.rule) in NAMESPACED:
            assert response.status_code in (200, 201)
            assert response.get_json()["id"] not in {m.id for m in _members_of(session, partner_b)}
            continue
        assert response.status_code == 404, f"{method} {rule.rule} -> {response.status_code}"
        assert response.mimetype == "application/problem+json"
    assert walked == sum(1 for r, _ in _rules(app, platform=False) if r.arguments)


def _members_of(session: Session, partner: Partner) -> list[Member]:
    return list(session.scalars(select(Member).where(Member.partner_id == partner.id)))


def test_partner_b_rows_are_unchanged_by_partner_a_walk(app, session, api_a, partner_b):
    b_ids = {name: make(session, partner_b) for name, make in OWNED_BY_B.items()}
    member = _members_of(session, partner_b)[0]
    balance, name = member.points_balance, member.display_name
    for rule, method in _rules(app, platform=False):
        if rule.arguments and method != "GET":
            _call(api_a, method, _fill(rule, b_ids), rule.endpoint)
    session.expire_all()
    member = _members_of(session, partner_b)[0]
    assert (member.points_balance, member.display_name) == (balance, name)
    order = session.get_one(Order, b_ids["order_id"])
    assert order.status == "fulfilled"


def test_partner_lists_never_show_another_partners_rows(app, session, api_a, partner_b):
    foreign = {partner_b.id} | {make(session, partner_b) for make in OWNED_BY_B.values()}
    foreign.discard("b-member")  # an external id is the partner's own word, not our id
    foreign |= {m.id for m in _members_of(session, partner_b)}
    walked = 0
    for rule, method in _rules(app, platform=False):
        if method != "GET" or rule.arguments:
            continue
        response = api_a.get(rule.rule)
        assert response.status_code == 200, f"GET {rule.rule} -> {response.status_code}"
        text = response.get_data(as_text=True)
        leaked = [i for i in foreign if i in text]
        assert not leaked, f"GET {rule.rule} shows partner B's {leaked}"
        walked += 1
    assert walked >= 1


def test_partner_token_cannot_use_any_platform_route(app, api_a, partner_b):
    walked = 0
    for rule, method in _rules(app, platform=True):
        path = _fill(rule, {name: partner_b.id for name in rule.arguments})
        response = _call(api_a, method, path, rule.endpoint)
        assert response.status_code == 403, f"{method} {rule.rule} -> {response.status_code}"
        assert response.get_json()["code"] == "insufficient_scope"
        walked += 1
    assert walked >= 5
