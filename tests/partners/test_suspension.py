"""A suspended (or closed) partner: no new token, every partner route 403 `partner_suspended`,
no fulfilment, no webhooks; operators still see everything; reactivation restores it all."""

from __future__ import annotations

import pytest

from app.core.db import utcnow
from app.fulfillment.models import Delivery
from app.fulfillment.service import begin_submission
from tests.factories import (
    fund,
    make_listing,
    make_member,
    make_product,
    request_token,
)


def _set_status(platform, partner_id: str, status: str) -> None:
    answer = platform.patch(f"/api/v1/platform/partners/{partner_id}", json={"status": status})
    assert answer.status_code == 200, answer.get_json()


@pytest.mark.parametrize("status", ["suspended", "closed"])
def test_a_suspended_partner_gets_no_token_and_no_api(api_a, platform, partner_a, status):
    _set_status(platform, partner_a.id, status)
    token = request_token(api_a.http, api_a.creds)
    assert token.status_code == 403 and token.get_json()["code"] == "partner_suspended"
    for path in ("/api/v1/partner", "/api/v1/orders", "/api/v1/catalog", "/api/v1/account"):
        answer = api_a.get(path)
        assert answer.status_code == 403, path
        assert answer.get_json()["code"] == "partner_suspended", path
    granted = api_a.post(
        "/api/v1/members/m1/points",
        json={"type": "grant", "amount": 10},
        headers={"Idempotency-Key": "g"},
    )
    assert granted.status_code == 403
    # the operator still sees the partner
    seen = platform.get(f"/api/v1/platform/partners/{partner_a.id}")
    assert seen.status_code == 200 and seen.get_json()["status"] == status


def test_reactivating_a_partner_restores_its_tokens(api_a, platform, partner_a):
    _set_status(platform, partner_a.id, "suspended")
    assert api_a.get("/api/v1/partner").status_code == 403
    _set_status(platform, partner_a.id, "active")
    assert api_a.get("/api/v1/partner").status_code == 200
    assert request_token(api_a.http, api_a.creds).status_code == 200


def test_a_suspended_partners_deliveries_are_held_until_it_is_active(
    api_a, platform, session, partner_a
):
    fund(session, partner_a)
    product = make_product(session, "QQ音乐", fulfillment_type="direct_recharge")
    listing = make_listing(session, partner_a, product)
    make_member(session, partner_a, "m1", points=5000, phone="13912345678")
    order = api_a.post(
        "/api/v1/orders",
        json={
            "member": "m1",
            "items": [{"listing": listing.id, "quantity": 1}],
            "payment": {"points": 1000},
        },
        headers={"Idempotency-Key": "o"},
    ).get_json()
    delivery_id = order["deliveries"][0]["id"]
    _set_status(platform, partner_a.id, "suspended")
    assert begin_submission(session, delivery_id, utcnow()) is None
    assert session.get_one(Delivery, delivery_id).status == "pending"
    session.rollback()
    _set_status(platform, partner_a.id, "active")
    submission = begin_submission(session, delivery_id, utcnow())
    assert submission is not None and submission.delivery_id == delivery_id
