"""Points + cash in the mall: the cash part is paid on the partner's payment page (signed both
ways); the order is placed once, when the member comes back paid, through the checkout flow;
a cancelled payment orders nothing; a paid one whose order cannot be placed is refunded by the
partner, told by an event."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import func, select

from app.core.signing import signed, verify
from app.mall import payments
from app.mall.pay_sim import create_pay_simulator
from app.members.models import Member
from app.orders.models import Order
from app.partners.models import Partner
from app.supply.models import Code
from app.webhooks.models import Event
from tests.factories import TEST_ACTOR, make_member, sellable_card_key_listing, vault_for_tests
from tests.mall.conftest import csrf_of, launch

SECRET = "partner-a-pay-secret"
PAY_URL = "https://pay.partner-a.example/cashier"


@pytest.fixture
def cash_shop(session, shop, partner_a):
    """Partner A sells a card key for 1,000 points + ¥9.90 and has a payment page."""
    owner = session.get_one(Partner, partner_a.id)
    payments.configure(session, TEST_ACTOR, owner, vault_for_tests(), PAY_URL, SECRET)
    listing = sellable_card_key_listing(
        session, owner, codes=3, points=1_000, cash_minor=990, wholesale_minor=1_500
    )
    session.commit()
    return listing


def _to_cashier(member, listing_id: str):
    page = member.get(f"/m/partner-a/p/{listing_id}").get_data(as_text=True)
    assert '+ <span data-testid="cash">¥9.90</span>' in page
    key = __import__("re").search(r'name="checkout_key"[^>]*value="([^"]+)"', page).group(1)
    sent = member.post(
        f"/m/partner-a/p/{listing_id}/buy",
        data={"csrf_token": csrf_of(page), "checkout_key": key, "quantity": "1"},
    )
    assert sent.status_code == 302 and sent.headers["Location"].startswith(PAY_URL + "?")
    asked = dict(parse_qsl(urlsplit(sent.headers["Location"]).query))
    assert verify(asked, SECRET) and asked["amount"] == "990" and asked["currency"] == "CNY"
    return asked


def _result(asked: dict, status: str = "paid", **changes) -> str:
    body = {
        "payment_id": asked["payment_id"],
        "status": status,
        "payment_ref": "PAY-0001" if status == "paid" else "",
        "amount": asked["amount"],
        "timestamp": int(time.time()),
    }
    body = signed(body, SECRET)
    body.update(changes)  # after signing: a tampered result
    return "&".join(f"{k}={v}" for k, v in body.items())


def _orders(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Order))


def test_a_paid_member_comes_back_to_one_order_with_points_and_cash(
    session, browser_of, api_a, cash_shop
):
    member = browser_of()
    launch(member, api_a)
    asked = _to_cashier(member, cash_shop.id)
    assert asked["return_url"].endswith("/m/partner-a/pay/return")
    back = member.get(f"/m/partner-a/pay/return?{_result(asked)}")
    assert back.status_code == 302 and "/m/partner-a/orders/" in back.headers["Location"]
    order = session.scalars(select(Order)).one()
    assert (order.points_total, order.cash_total_minor, order.cash_payment_ref) == (
        1_000, 990, "PAY-0001",
    )  # fmt: skip
    m1 = session.scalars(select(Member).where(Member.external_id == "m-1")).one()
    assert m1.points_balance == 10_000 - 1_000
    again = member.get(f"/m/partner-a/pay/return?{_result(asked)}")  # a reload, a double tap
    assert again.headers["Location"] == back.headers["Location"] and _orders(session) == 1


def test_tampered_or_foreign_results_are_refused(session, browser_of, api_a, cash_shop, partner_a):
    member = browser_of()
    launch(member, api_a)
    asked = _to_cashier(member, cash_shop.id)
    cheaper = member.get(f"/m/partner-a/pay/return?{_result(asked, amount='1')}")
    assert cheaper.status_code == 400
    unsigned = member.get(f"/m/partner-a/pay/return?{_result(asked, sign='0' * 64)}")
    assert unsigned.status_code == 400
    make_member(session, partner_a, "m-2", points=10_000)
    other = browser_of()
    launch(other, api_a, "m-2")
    assert other.get(f"/m/partner-a/pay/return?{_result(asked)}").status_code == 404
    assert _orders(session) == 0


def test_a_cancelled_payment_orders_nothing(session, browser_of, api_a, cash_shop):
    member = browser_of()
    launch(member, api_a)
    asked = _to_cashier(member, cash_shop.id)
    back = member.get(f"/m/partner-a/pay/return?{_result(asked, 'cancelled')}")
    assert back.status_code == 200 and "您取消了支付，未下单" in back.get_data(as_text=True)
    assert _orders(session) == 0


def test_paid_but_sold_out_meanwhile_asks_the_partner_to_refund(
    session, browser_of, api_a, cash_shop
):
    member = browser_of()
    launch(member, api_a)
    asked = _to_cashier(member, cash_shop.id)
    for code in session.scalars(select(Code).where(Code.product_id == cash_shop.product_id)):
        code.status = "sold"  # the last codes went to others while the member paid
    session.commit()
    back = member.get(f"/m/partner-a/pay/return?{_result(asked)}")
    assert back.status_code == 200 and 'data-testid="payment-status"' in back.get_data(as_text=True)
    assert _orders(session) == 0
    (event,) = session.scalars(select(Event).where(Event.type == "payment.refund_requested"))
    assert event.data["payment_ref"] == "PAY-0001"
    assert event.data["amount"] == {"amount": 990, "currency": "CNY"}
    m1 = session.scalars(select(Member).where(Member.external_id == "m-1")).one()
    assert m1.points_balance == 10_000  # no points taken


def test_the_simulated_payment_page_checks_our_signature_and_signs_its_result():
    sim = create_pay_simulator({"PAY_SECRET": SECRET}).test_client()
    asked = signed(
        {"payment_id": "mpy_1", "member": "m-1", "amount": 990, "currency": "CNY",
         "description": "x", "return_url": "https://mall.example/m/a/pay/return",
         "timestamp": int(time.time())},
        SECRET,
    )  # fmt: skip
    assert sim.get("/pay", query_string={**asked, "amount": 1}).status_code == 400
    page = sim.get("/pay", query_string=asked)
    assert page.status_code == 200 and "¥9.90" in page.get_data(as_text=True)
    done = sim.post("/confirm", data={**{k: str(v) for k, v in asked.items()}, "outcome": "paid"})
    result = dict(parse_qsl(urlsplit(done.headers["Location"]).query))
    assert verify(result, SECRET) and result["status"] == "paid" and result["amount"] == "990"
