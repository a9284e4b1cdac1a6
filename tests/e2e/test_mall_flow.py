"""The whole partner flow through the HTTP API: token → catalog → member → points → order →
fulfilled → entitlement → reveal (audited)."""

from __future__ import annotations

from sqlalchemy import select

from app.core.audit import AuditLog
from tests.factories import make_product, stock_codes


def test_partner_flow_from_token_to_revealed_code(api_a, platform, session, partner_a):
    product = make_product(session, "优酷", "优酷VIP月卡")
    stock_codes(session, product, 3)
    base = f"/api/v1/platform/partners/{partner_a.id}"
    assert (
        platform.post(
            f"{base}/account/top-ups",
            json={"amount": {"amount": 100000}},
            headers={"Idempotency-Key": "fund-1"},
        ).status_code
        == 201
    )
    listing = platform.post(
        f"{base}/listings",
        json={
            "product_id": product.id,
            "price_points": 2500,
            "wholesale_minor": 2200,
            "tier_prices": {"gold": {"points": 2000}},
        },
    ).get_json()

    catalog = api_a.get("/api/v1/catalog").get_json()["data"]
    entry = next(e for e in catalog if e["id"] == listing["id"])
    assert entry["price"]["points"] == 2500 and entry["available"] == 3 and entry["in_stock"]

    member = api_a.put("/api/v1/members/card-0001", json={"display_name": "张三", "tier": "gold"})
    assert member.status_code == 200
    grant = api_a.post(
        "/api/v1/members/card-0001/points",
        json={"type": "grant", "amount": 5000, "reason": "monthly statement"},
        headers={"Idempotency-Key": "g-1"},
    )
    assert grant.status_code == 201 and grant.get_json()["balance_after"] == 5000

    priced = api_a.get(f"/api/v1/catalog/{listing['id']}?member=card-0001").get_json()
    assert priced["price"] == {
        "points": 2000,
        "cash": {"amount": 0, "currency": "CNY"},
        "source": "tier",
    }

    order = api_a.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "o-1"},
        json={
            "member": "card-0001",
            "items": [{"listing": listing["id"], "quantity": 1}],
            "payment": {"points": 2000},
            "expected_total": {"points": 2000},
        },
    )
    assert order.status_code == 201, order.get_json()
    body = order.get_json()
    assert body["status"] == "fulfilled"
    assert body["member"] == "card-0001"
    assert body["items"][0]["snapshot"]["product_name"] == "优酷VIP月卡"
    assert [d["status"] for d in body["deliveries"]] == ["delivered"]
    (entitlement,) = body["entitlements"]
    assert entitlement["masked_code"].startswith("****-****-")

    held = api_a.get("/api/v1/members/card-0001/entitlements").get_json()["data"]
    assert [e["id"] for e in held] == [entitlement["id"]]
    assert api_a.get("/api/v1/members/card-0001").get_json()["points_balance"] == 3000

    revealed = api_a.post(f"/api/v1/entitlements/{entitlement['id']}/reveal")
    assert revealed.status_code == 200
    code = revealed.get_json()["code"]
    assert code.endswith(entitlement["masked_code"][-4:])
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "entitlement.revealed")).one()
    assert audit.actor_id == api_a.creds.client_id and audit.ip and code not in str(audit.after)

    account = api_a.get("/api/v1/account").get_json()
    assert account["balance"] == {"amount": 100000 - 2200, "currency": "CNY"}
    assert api_a.get(f"/api/v1/orders/{body['id']}").get_json()["id"] == body["id"]
    listed = api_a.get("/api/v1/orders?member=card-0001").get_json()["data"]
    assert [o["id"] for o in listed] == [body["id"]]


def test_reveal_needs_its_scope(client, session, partner_a):
    from tests.factories import ApiUser, make_client

    reader = ApiUser.login(client, make_client(session, partner_a, ["entitlements:read"]))
    response = reader.post("/api/v1/entitlements/ent_00000000000000000000000000/reveal")
    assert response.status_code == 403
