"""After-sales: a case about a delivered unit is resolved by reissue (new code, old revoked),
refund (points and wholesale back) or rejection; a unit is never remedied twice — not by two
cases, not by two supporters at the same moment on PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

from app.accounts.models import PartnerAccount
from app.core.audit import Actor
from app.core.db import utcnow
from app.entitlements.models import Entitlement
from app.members.models import Member
from app.orders import aftersales
from app.orders.models import Case, Order
from app.webhooks.models import Event
from tests.factories import (
    ApiUser,
    fund,
    make_client,
    make_member,
    place,
    sellable_card_key_listing,
)

SUPPORT = Actor("staff", "stf_support")


@pytest.fixture
def delivered(session, partner_a):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=10_000)
    listing = sellable_card_key_listing(session, partner_a, codes=5, points=1_000)
    order = place(session, partner_a, member, listing)
    return order


def _open(session, partner, order: Order) -> Case:
    case = aftersales.open_case(
        session, SUPPORT, partner.id, order.id, order.deliveries[0].id, "code_not_working",
        "refused by the app", utcnow(),
    )  # fmt: skip
    session.commit()
    return case


def test_partners_open_and_follow_cases_through_the_api(session, client, partner_a, delivered):
    api = ApiUser.login(client, make_client(session, partner_a))
    body = {
        "delivery_id": delivered.deliveries[0].id,
        "kind": "code_not_working",
        "description": "会员反馈卡密无效",
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}
    opened = api.post(f"/api/v1/orders/{delivered.id}/cases", json=body, headers=key)
    assert opened.status_code == 201, opened.get_json()
    case = opened.get_json()
    assert case["status"] == "open" and case["resolution"] is None
    again = api.post(
        f"/api/v1/orders/{delivered.id}/cases",
        json=body,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert again.status_code == 409 and again.get_json()["case_id"] == case["id"]
    assert [c["id"] for c in api.get("/api/v1/cases?status=open").get_json()["data"]] == [
        case["id"]
    ]
    assert api.get(f"/api/v1/cases/{case['id']}").get_json()["kind"] == "code_not_working"
    assert session.scalars(select(Event).where(Event.type == "case.opened")).one()


def test_reissue_hands_over_a_new_code_and_revokes_the_old(session, partner_a, delivered):
    case = _open(session, partner_a, delivered)
    old = session.get_one(Entitlement, case.entitlement_id)
    aftersales.resolve(session, SUPPORT, partner_a.id, case.id, "reissued", "bad code", utcnow())
    session.commit()
    session.expire_all()
    case = session.get_one(Case, case.id)
    new = session.get_one(Entitlement, case.replacement_entitlement_id)
    assert session.get_one(Entitlement, old.id).status == "revoked"
    assert new.status == "active" and new.code_id != old.code_id
    assert new.provenance["replaces"] == old.delivery_id
    resolved = session.scalars(select(Event).where(Event.type == "case.resolved")).one()
    assert resolved.data["resolution"] == "reissued"


def test_refund_gives_back_points_and_wholesale_once(session, partner_a, delivered):
    member = session.scalars(select(Member).where(Member.external_id == "m-1")).one()
    before_points = member.points_balance
    before_balance = session.get_one(PartnerAccount, partner_a.id).balance_minor
    first = _open(session, partner_a, delivered)
    aftersales.resolve(session, SUPPORT, partner_a.id, first.id, "refunded", "no code", utcnow())
    session.commit()
    session.expire_all()
    assert session.get_one(Member, member.id).points_balance == before_points + 1_000
    refunded = session.get_one(PartnerAccount, partner_a.id).balance_minor - before_balance
    assert refunded == delivered.items[0].unit_wholesale_minor
    # a second case on the same unit may be opened, but never remedied again
    second = _open(session, partner_a, delivered)
    for remedy in ("refunded", "reissued"):
        with pytest.raises(aftersales.UnitAlreadyRemedied):
            aftersales.resolve(session, SUPPORT, partner_a.id, second.id, remedy, "x", utcnow())
        session.rollback()
    aftersales.resolve(session, SUPPORT, partner_a.id, second.id, "rejected", "dup", utcnow())
    session.commit()
    session.expire_all()
    assert session.get_one(Member, member.id).points_balance == before_points + 1_000
    with pytest.raises(aftersales.CaseClosed):
        aftersales.resolve(session, SUPPORT, partner_a.id, second.id, "rejected", "x", utcnow())


def test_another_partners_case_is_not_found(session, partner_a, partner_b, delivered):
    case = _open(session, partner_a, delivered)
    with pytest.raises(aftersales.NotFound):
        aftersales.resolve(session, SUPPORT, partner_b.id, case.id, "refunded", "x", utcnow())


@pytest.mark.postgres
def test_two_supporters_remedying_one_unit_at_once_remedy_it_once(
    app, session, partner_a, delivered
):
    """Two cases about the same unit (as two reports racing through open_case could make),
    four supporters resolving them at the same moment with remedies: the unit is remedied by
    exactly one of them."""
    from app.extensions import db

    first = _open(session, partner_a, delivered)
    twin = Case(
        **{
            column.key: getattr(first, column.key)
            for column in Case.__table__.columns
            if column.key != "id"
        }
    )
    session.add(twin)
    session.commit()
    cases = [first.id, twin.id]
    member_id = delivered.member_id
    before = session.get_one(Member, member_id).points_balance
    db.session.remove()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def remedy(n: int) -> None:
        try:
            with app.app_context(), db.transaction() as own:
                barrier.wait()
                aftersales.resolve(
                    own, Actor("staff", f"stf_{n}"), partner_a.id, cases[n % 2],
                    "refunded" if n < 2 else "reissued", "race", utcnow(),
                )  # fmt: skip
            outcomes.append("remedied")
        except (aftersales.CaseClosed, aftersales.UnitAlreadyRemedied):
            outcomes.append("refused")

    threads = [threading.Thread(target=remedy, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 3 + ["remedied"]
    fresh = db.session()
    resolutions = [fresh.get_one(Case, case_id).resolution for case_id in cases]
    assert sorted(r for r in resolutions if r) in (["refunded"], ["reissued"])
    after = fresh.get_one(Member, member_id).points_balance
    assert after == (before + 1_000 if "refunded" in resolutions else before)
    revoked = fresh.scalars(
        select(Entitlement).where(
            Entitlement.order_id == delivered.id, Entitlement.status == "revoked"
        )
    ).all()
    assert len(revoked) == 1


# --- direct recharges reissued, and the order's status after after-sales -----------------


@pytest.fixture
def recharged(session, partner_a, empty_queues):
    """One direct recharge delivered by supplier S (capacity 10 before the order)."""
    from app.fulfillment import service as engine
    from app.fulfillment.suppliers.base import SUCCESS, StatusReport, SubmitResult
    from tests.factories import make_listing, make_product, make_supplier

    supplier = make_supplier(session, "Upstream T")
    product = make_product(
        session, "腾讯视频", fulfillment_type="direct_recharge", supplier=supplier,
        stock_capacity=10,
    )  # fmt: skip
    fund(session, partner_a)
    listing = make_listing(session, partner_a, product, points=1_000)
    member = make_member(session, partner_a, "m-1", points=10_000, phone="13912345678")
    order = place(session, partner_a, member, listing)
    (delivery,) = order.deliveries
    now = utcnow()
    submission = engine.begin_submission(session, delivery.id, now)
    engine.record_submission(session, submission, SubmitResult("accepted", "SO-1"), now)
    engine.apply_report(
        session, delivery.id, supplier.id, StatusReport(delivery.id, SUCCESS, "SO-1"), now
    )
    session.commit()
    session.refresh(order)
    assert order.status == "fulfilled"
    return order, supplier, product


def _settle(session, delivery_id: str, supplier_id: str, outcome: str) -> None:
    from app.fulfillment import service as engine
    from app.fulfillment.suppliers.base import StatusReport, SubmitResult

    now = utcnow()
    submission = engine.begin_submission(session, delivery_id, now)
    engine.record_submission(session, submission, SubmitResult("accepted", "SO-2"), now)
    engine.apply_report(
        session, delivery_id, supplier_id, StatusReport(delivery_id, outcome, "SO-2"), now
    )
    if outcome != "success":
        assert engine.begin_submission(session, delivery_id, now) is None  # no other offer
    session.commit()


def _capacity(session, product_id: str) -> int:
    from app.supply.models import Product

    session.expire_all()
    return session.get_one(Product, product_id).stock_capacity


def test_a_direct_recharge_is_reissued_to_the_supplier_and_delivers_again(
    session, partner_a, recharged
):
    from app.fulfillment.models import Delivery
    from app.fulfillment.suppliers.base import SUCCESS

    order, supplier, product = recharged
    case = _open(session, partner_a, order)
    aftersales.resolve(
        session, SUPPORT, partner_a.id, case.id, "reissued", "not received", utcnow()
    )
    session.commit()
    assert case.replacement_delivery_id and case.replacement_entitlement_id is None
    replacement = session.get_one(Delivery, case.replacement_delivery_id)
    assert (replacement.status, replacement.recharge_account) == ("pending", "13912345678")
    assert _capacity(session, product.id) == 8  # the order's unit, then the reissue's
    old = session.scalars(select(Entitlement).where(Entitlement.order_id == order.id)).one()
    assert old.status == "revoked"

    _settle(session, replacement.id, supplier.id, SUCCESS)
    entitlements = session.scalars(
        select(Entitlement).where(Entitlement.order_id == order.id).order_by(Entitlement.id)
    ).all()
    assert [e.status for e in entitlements] == ["revoked", "active"]
    assert entitlements[1].delivery_id == replacement.id
    assert session.get_one(Order, order.id).status == "fulfilled"


def test_a_reissue_that_fails_refunds_the_unit_once_and_the_order_is_refunded(
    session, partner_a, recharged
):
    from app.fulfillment.suppliers.base import FAILED

    order, supplier, product = recharged
    case = _open(session, partner_a, order)
    aftersales.resolve(session, SUPPORT, partner_a.id, case.id, "reissued", "again", utcnow())
    session.commit()
    balance = session.get_one(PartnerAccount, partner_a.id).balance_minor
    _settle(session, case.replacement_delivery_id, supplier.id, FAILED)
    session.expire_all()
    assert (
        session.scalar(select(Member.points_balance).where(Member.external_id == "m-1")) == 10_000
    )
    assert session.get_one(PartnerAccount, partner_a.id).balance_minor > balance  # wholesale back
    assert _capacity(session, product.id) == 9  # the reissue's capacity returned, only it
    assert session.get_one(Order, order.id).status == "refunded"
    refunded = session.scalars(select(Event).where(Event.type == "order.refunded")).all()
    assert [e.order_id for e in refunded] == [order.id]


def test_refunding_the_last_kept_unit_refunds_the_order_one_of_two_does_not(session, partner_a):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-2", points=10_000)
    listing = sellable_card_key_listing(session, partner_a, codes=5, points=1_000)
    single = place(session, partner_a, member, listing)
    double = place(session, partner_a, member, listing, quantity=2)
    for order, expected in ((single, "refunded"), (double, "fulfilled")):
        case = aftersales.open_case(
            session, SUPPORT, partner_a.id, order.id, order.deliveries[0].id, "other", "x",
            utcnow(),
        )  # fmt: skip
        aftersales.resolve(session, SUPPORT, partner_a.id, case.id, "refunded", "ok", utcnow())
        session.commit()
        assert session.get_one(Order, order.id).status == expected
