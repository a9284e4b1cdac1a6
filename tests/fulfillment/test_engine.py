"""Direct recharge through simulated suppliers over real HTTP: submit, callbacks, polling,
failover, refunds, late results and recovery."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.accounts.models import PartnerAccount
from app.core.db import utcnow
from app.core.queue import drain, get_queue
from app.core.signing import signed
from app.entitlements.models import Entitlement
from app.fulfillment.models import Delivery
from app.members.models import Member
from app.orders.models import Order
from app.supply.models import Offer
from app.webhooks.models import Event
from tests.factories import place
from tests.fulfillment.conftest import sim_supplier


def _delivery(session, order_id: str) -> Delivery:
    session.expire_all()
    return session.scalars(select(Delivery).where(Delivery.order_id == order_id)).one()


def _place_m1(session, partner, listing) -> Order:
    """Member m1 of the recharge shop orders one unit."""
    member = session.scalars(select(Member).where(Member.external_id == "m1")).one()
    return place(session, partner, member, listing)


def _poll_now(app, session, order_id: str) -> None:
    delivery = _delivery(session, order_id)
    delivery.next_check_at = utcnow() - timedelta(seconds=1)
    session.commit()
    from app.fulfillment import jobs

    jobs.sweep()
    drain(app)


def test_order_commit_enqueues_a_submit_job_and_nothing_on_rollback(
    app, session, partner_a, sim_factory, recharge_shop
):
    listing = recharge_shop(sim_supplier(session, sim_factory(), "S1"))
    member = session.scalars(select(Member).where(Member.external_id == "m1")).one()
    place(session, partner_a, member, listing)
    assert get_queue("fulfillment", app).count == 1


def test_accepted_then_polled_success_delivers_once(
    app, session, partner_a, sim_factory, recharge_shop
):
    listing = recharge_shop(sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "S1"))
    order = _place_m1(session, partner_a, listing)
    drain(app)
    delivery = _delivery(session, order.id)
    assert delivery.status == "submitted" and delivery.supplier_order_no.startswith("SIM")
    _poll_now(app, session, order.id)
    delivery = _delivery(session, order.id)
    assert delivery.status == "delivered"
    assert session.get_one(Order, order.id).status == "fulfilled"
    (entitlement,) = session.scalars(select(Entitlement).where(Entitlement.order_id == order.id))
    assert entitlement.snapshot["recharge_account"] == "13912345678"
    _poll_now(app, session, order.id)  # a second poll changes nothing
    assert (
        len(session.scalars(select(Entitlement).where(Entitlement.order_id == order.id)).all()) == 1
    )


def _callback(client, supplier_id: str, body: dict, secret: str = "sim-secret"):
    return client.post(f"/callbacks/suppliers/{supplier_id}", json=signed(body, secret))


def test_callbacks_forged_duplicate_and_unknown(
    app, client, session, partner_a, sim_factory, recharge_shop
):
    supplier = sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "S1")
    listing = recharge_shop(supplier)
    order = _place_m1(session, partner_a, listing)
    drain(app)
    delivery_id = _delivery(session, order.id).id
    body = {
        "merchant": "quanyi",
        "out_trade_no": delivery_id,
        "order_no": "X1",
        "status": "success",
    }

    forged = _callback(client, supplier.id, body, secret="wrong")
    assert forged.status_code == 401 and forged.mimetype == "application/problem+json"
    assert _delivery(session, order.id).status == "submitted"

    first = _callback(client, supplier.id, body)
    assert first.status_code == 200 and first.get_json()["outcome"] == "delivered"
    again = _callback(client, supplier.id, body)
    assert again.status_code == 200 and again.get_json()["outcome"] == "ignored"
    assert (
        len(session.scalars(select(Entitlement).where(Entitlement.order_id == order.id)).all()) == 1
    )
    unknown = _callback(client, supplier.id, {**body, "out_trade_no": "dlv_nope"})
    assert unknown.status_code == 200 and unknown.get_json()["outcome"] == "unknown_delivery"


def test_rejection_fails_over_to_the_next_offer(
    app, session, partner_a, sim_factory, recharge_shop
):
    bad = sim_supplier(session, sim_factory(SIM_REJECT_RATE=1), "Bad")
    good = sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "Good")
    listing = recharge_shop(bad, good)
    order = _place_m1(session, partner_a, listing)
    drain(app)
    delivery = _delivery(session, order.id)
    assert delivery.status == "submitted" and len(delivery.tried_offer_ids) == 1
    _poll_now(app, session, order.id)
    assert _delivery(session, order.id).status == "delivered"


def test_when_every_offer_fails_the_unit_is_refunded(
    app, client, session, partner_a, sim_factory, recharge_shop
):
    one = sim_supplier(session, sim_factory(SIM_REJECT_RATE=1), "One")
    two = sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "Two")
    listing = recharge_shop(one, two)
    order = _place_m1(session, partner_a, listing)
    drain(app)
    delivery_id = _delivery(session, order.id).id
    failed = {
        "merchant": "quanyi",
        "out_trade_no": delivery_id,
        "order_no": "F1",
        "status": "failed",
    }
    assert _callback(client, two.id, failed).get_json()["outcome"] == "failed_over"
    drain(app)  # no offer left: the unit fails
    session.expire_all()
    assert _delivery(session, order.id).status == "failed"
    assert session.get_one(Order, order.id).status == "failed"
    assert (
        session.scalars(select(Member).where(Member.external_id == "m1")).one().points_balance
        == 10_000
    )
    assert session.get_one(PartnerAccount, partner_a.id).balance_minor == 100_000
    types = set(session.scalars(select(Event.type).where(Event.partner_id == partner_a.id)))
    assert {"delivery.failed", "order.failed"} <= types

    late = {**failed, "status": "success"}
    answer = _callback(client, two.id, late)
    assert answer.get_json()["outcome"] == "late_success_recorded"
    delivery = _delivery(session, order.id)
    assert delivery.status == "failed" and delivery.late_result["supplier_order_no"] == "F1"
    assert session.scalars(select(Entitlement).where(Entitlement.order_id == order.id)).all() == []


def test_lost_job_is_recovered_by_the_sweep(app, session, partner_a, sim_factory, recharge_shop):
    listing = recharge_shop(sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "S1"))
    order = _place_m1(session, partner_a, listing)
    get_queue("fulfillment", app).empty()  # the job is lost (a worker killed, Redis flushed)
    delivery = _delivery(session, order.id)
    delivery.updated_at = utcnow() - timedelta(minutes=5)
    session.commit()
    from app.fulfillment import jobs

    jobs.sweep()
    drain(app)
    assert _delivery(session, order.id).status == "submitted"


def test_unreachable_supplier_leaves_the_delivery_submitted_for_a_later_poll(
    app, session, partner_a, sim_factory, recharge_shop
):
    down = sim_factory(SIM_ERROR_RATE=1)
    listing = recharge_shop(sim_supplier(session, down, "Down"))
    order = _place_m1(session, partner_a, listing)
    drain(app)
    delivery = _delivery(session, order.id)
    assert delivery.status == "submitted" and delivery.supplier_order_no is None
    down.config["SIM_ERROR_RATE"] = 0  # it recovers, never having seen the order
    _poll_now(app, session, order.id)  # query: unknown → resubmitted with the same reference
    delivery = _delivery(session, order.id)
    assert delivery.status == "submitted" and delivery.attempts == 2
    assert delivery.supplier_order_no is not None


def test_redis_down_at_order_time_still_accepts_and_delivers_later(
    app, session, partner_a, sim_factory, recharge_shop, monkeypatch
):
    import redis

    listing = recharge_shop(sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "S1"))
    member = session.scalars(select(Member).where(Member.external_id == "m1")).one()
    # a real Redis client to a port where nothing listens: enqueueing fails as in an outage
    monkeypatch.setitem(
        app.extensions, "quanyi_redis", redis.Redis(port=1, socket_connect_timeout=0.2)
    )
    order = place(
        session, partner_a, member, listing
    )  # the order commits; the job cannot be queued
    assert session.get_one(Order, order.id).status == "processing"
    monkeypatch.undo()  # Redis is back
    assert get_queue("fulfillment", app).count == 0

    delivery = _delivery(session, order.id)
    delivery.updated_at = utcnow() - timedelta(minutes=5)  # the sweep finds it once Redis is back
    session.commit()
    from app.fulfillment import jobs

    jobs.sweep()
    drain(app)
    _poll_now(app, session, order.id)
    assert session.get_one(Order, order.id).status == "fulfilled"


def test_submit_job_run_twice_submits_once(app, session, partner_a, sim_factory, recharge_shop):
    sim = sim_factory(SIM_NO_CALLBACK_RATE=1)
    listing = recharge_shop(sim_supplier(session, sim, "S1"))
    order = _place_m1(session, partner_a, listing)
    delivery_id = _delivery(session, order.id).id
    from app.fulfillment import jobs

    jobs.submit_delivery(delivery_id)
    jobs.submit_delivery(delivery_id)
    assert _delivery(session, order.id).attempts == 1


def test_supplier_stats_count_deliveries_failovers_and_latency(
    app, client, session, partner_a, sim_factory, recharge_shop, platform
):
    bad = sim_supplier(session, sim_factory(SIM_REJECT_RATE=1), "Bad")
    good = sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "Good")
    listing = recharge_shop(bad, good)
    order = _place_m1(session, partner_a, listing)
    drain(app)
    _poll_now(app, session, order.id)
    bad_stats = platform.get(f"/api/v1/platform/suppliers/{bad.id}/stats").get_json()
    good_stats = platform.get(
        f"/api/v1/platform/suppliers/{good.id}/stats?window_hours=1"
    ).get_json()
    assert (bad_stats["failovers"], bad_stats["delivered"], bad_stats["success_rate"]) == (
        1,
        0,
        0.0,
    )
    assert (good_stats["delivered"], good_stats["failovers"], good_stats["success_rate"]) == (
        1,
        0,
        1.0,
    )
    assert good_stats["latency_ms_p50"] is not None and good_stats["pending"] == 0


def test_supplier_balance_low_is_emitted_once_and_dry_supplier_fails_over(
    app, session, partner_a, sim_factory, recharge_shop
):
    from app.fulfillment import jobs
    from app.supply.models import Supplier

    dry_sim = sim_factory(SIM_BALANCE_MINOR=1_000, SIM_UNIT_COST_MINOR=2_000)
    dry = sim_supplier(session, dry_sim, "Dry")
    good = sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "Good")
    for supplier in (dry, good):
        supplier.low_balance_threshold_minor = 5_000
    session.commit()
    jobs.check_supplier_balances()
    session.expire_all()
    assert session.get_one(Supplier, dry.id).balance_minor == 1_000
    events = session.scalars(select(Event).where(Event.type == "supplier.balance_low")).all()
    assert [e.data["supplier_id"] for e in events] == [dry.id]
    session.get_one(Supplier, dry.id).balance_checked_at = utcnow() - timedelta(hours=1)
    session.commit()
    jobs.check_supplier_balances()  # still low: not emitted again
    assert (
        len(session.scalars(select(Event).where(Event.type == "supplier.balance_low")).all()) == 1
    )

    listing = recharge_shop(dry, good)  # the dry supplier is tried first
    order = _place_m1(session, partner_a, listing)
    drain(app)
    delivery = _delivery(session, order.id)
    assert delivery.status == "submitted" and delivery.last_error == "insufficient_balance"
    assert session.get_one(Offer, delivery.offer_id).supplier_id == good.id


def test_a_supplier_unreachable_for_too_long_is_failed_over(
    app, session, partner_a, sim_factory, recharge_shop
):
    down = sim_factory(SIM_ERROR_RATE=1)
    up = sim_factory(SIM_NO_CALLBACK_RATE=1)
    listing = recharge_shop(sim_supplier(session, down, "Down"), sim_supplier(session, up, "Up"))
    order = _place_m1(session, partner_a, listing)
    drain(app)
    _poll_now(app, session, order.id)  # unreachable, but not for long: keep waiting
    delivery = _delivery(session, order.id)
    assert delivery.status == "submitted" and delivery.tried_offer_ids == []
    delivery.submitted_at = utcnow() - timedelta(minutes=11)
    session.commit()
    _poll_now(app, session, order.id)  # gives up on it: the next offer takes the delivery
    delivery = _delivery(session, order.id)
    assert len(delivery.tried_offer_ids) == 1 and delivery.status == "submitted"
    _poll_now(app, session, order.id)
    assert _delivery(session, order.id).status == "delivered"


def test_a_supplier_without_credentials_has_its_callbacks_refused(client, session):
    from tests.factories import make_supplier

    bare = make_supplier(session, "No Secret", credentials=None)
    # signed with the empty secret it would verify against: refused all the same
    forged = {"merchant": "", "out_trade_no": "dlv_x", "status": "success"}
    answer = _callback(client, bare.id, forged, "")
    assert answer.status_code == 401 and answer.mimetype == "application/problem+json"


def test_a_supplier_reporting_on_a_delivery_it_was_never_sent_changes_nothing(
    app, client, session, partner_a, sim_factory, recharge_shop
):
    sent = sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "Sent")
    stranger = sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "Stranger")
    listing = recharge_shop(sent)
    order = _place_m1(session, partner_a, listing)
    drain(app)
    delivery_id = _delivery(session, order.id).id
    body = {"merchant": "quanyi", "out_trade_no": delivery_id, "order_no": "Z", "status": "success"}
    answer = _callback(client, stranger.id, body)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "not_sent_to_supplier"
    delivery = _delivery(session, order.id)
    assert delivery.status == "submitted" and delivery.late_result is None


def test_a_silent_supplier_recharging_after_failover_is_recorded_as_a_double_delivery(
    app, session, partner_a, sim_factory, recharge_shop
):
    from app.billing.settlement import day_bounds, supplier_settlement
    from app.fulfillment import jobs
    from app.supply.models import Supplier

    flaky_sim = sim_factory(SIM_NO_CALLBACK_RATE=1)
    flaky = sim_supplier(session, flaky_sim, "Flaky")
    listing = recharge_shop(flaky, sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "Up"))
    order = _place_m1(session, partner_a, listing)
    drain(app)  # the flaky supplier accepts it, then answers nothing but 500s
    flaky_sim.config["SIM_ERROR_RATE"] = 1
    delivery = _delivery(session, order.id)
    delivery.submitted_at = utcnow() - timedelta(minutes=11)
    session.commit()
    _poll_now(app, session, order.id)  # given up: failed over, its submission kept open
    delivery = _delivery(session, order.id)
    assert [e["supplier_id"] for e in delivery.open_submissions] == [flaky.id]
    _poll_now(app, session, order.id)
    assert _delivery(session, order.id).status == "delivered"  # by the second supplier

    flaky_sim.config["SIM_ERROR_RATE"] = 0  # back, and it had recharged the member too
    delivery = _delivery(session, order.id)
    delivery.open_check_at = utcnow() - timedelta(seconds=1)
    session.commit()
    jobs.sweep()
    drain(app)
    delivery = _delivery(session, order.id)
    assert delivery.late_result["kind"] == "double_delivery"
    assert delivery.late_result["supplier_id"] == flaky.id
    assert delivery.open_submissions == [] and delivery.open_check_at is None
    alert = session.scalars(select(Event).where(Event.type == "delivery.double_delivery")).one()
    assert alert.partner_id is None and alert.data["delivery_id"] == delivery.id
    today = utcnow().date()
    owed = supplier_settlement(
        session,
        session.get_one(Supplier, flaky.id),
        *day_bounds(today - timedelta(days=1), today + timedelta(days=2)),
    )
    assert [(s["delivery_id"], s["kind"]) for s in owed["late_successes"]] == [
        (delivery.id, "double_delivery")
    ]


def test_a_link_is_delivered_sealed_and_revealed_like_a_code(
    app, api_a, session, partner_a, sim_factory, recharge_shop
):
    from sqlalchemy import text

    from app.supply import products
    from tests.factories import PLAINTEXT_CODES, TEST_ACTOR, make_listing, make_product

    sim = sim_factory(SIM_NO_CALLBACK_RATE=1)
    supplier = sim_supplier(session, sim, "Links")
    recharge_shop(supplier)  # funds the partner and gives m1 points
    product = make_product(
        session, "得到", fulfillment_type="link", supplier=supplier, validity_days=365
    )
    products.update_offer(session, TEST_ACTOR, product.offers[0], {"supplier_sku": "LINK-1"})
    session.commit()
    order = _place_m1(session, partner_a, make_listing(session, partner_a, product))
    drain(app)
    _poll_now(app, session, order.id)
    delivery = _delivery(session, order.id)
    assert delivery.status == "delivered" and delivery.code_id is not None
    (entitlement,) = session.scalars(select(Entitlement).where(Entitlement.order_id == order.id))
    assert entitlement.masked_code and entitlement.valid_until <= utcnow() + timedelta(days=30)
    claim_url = f"https://claim.sim.example/c/{sim.orders[delivery.id]['order_no']}"
    PLAINTEXT_CODES.add(claim_url)
    stored = " ".join(str(v) for row in session.execute(text("SELECT * FROM codes")) for v in row)
    assert claim_url not in stored  # sealed at rest
    revealed = api_a.post(f"/api/v1/entitlements/{entitlement.id}/reveal")
    assert revealed.status_code == 200 and revealed.get_json()["code"] == claim_url


def test_a_link_success_without_its_link_fails_over(
    app, session, partner_a, sim_factory, recharge_shop
):
    from app.supply import products
    from tests.factories import TEST_ACTOR, make_listing, make_product

    supplier = sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "No Links")
    recharge_shop(supplier)
    product = make_product(session, "得到", fulfillment_type="link", supplier=supplier)
    products.update_offer(session, TEST_ACTOR, product.offers[0], {"supplier_sku": "PLAIN"})
    session.commit()
    order = _place_m1(session, partner_a, make_listing(session, partner_a, product))
    drain(app)
    _poll_now(app, session, order.id)  # success, but no claim link: no other offer, refunded
    drain(app)
    assert _delivery(session, order.id).status == "failed"


def _payload_shape(session, order_id: str) -> dict[str, set[str]]:
    session.expire_all()
    return {
        event.type: set(event.data)
        for event in session.scalars(select(Event).order_by(Event.id))
        if event.data.get("order_id") == order_id
        and event.type in ("order.created", "order.fulfilled", "entitlement.created")
    }


def test_events_carry_the_same_payload_from_checkout_and_from_the_engine(
    app, session, partner_a, sim_factory, recharge_shop
):
    """order.fulfilled and entitlement.created are announced by checkout (card keys) and by the
    fulfillment engine (direct recharge): one schema per event type, `member` included."""
    from tests.factories import sellable_card_key_listing

    card_key = place(
        session,
        partner_a,
        session.scalars(select(Member).where(Member.external_id == "m1")).one(),
        sellable_card_key_listing(session, partner_a, codes=1),
    )
    recharge = _place_m1(
        session,
        partner_a,
        recharge_shop(sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "S1")),
    )
    drain(app)
    _poll_now(app, session, recharge.id)
    assert session.get_one(Order, recharge.id).status == "fulfilled"
    from_checkout = _payload_shape(session, card_key.id)
    from_engine = _payload_shape(session, recharge.id)
    assert (
        set(from_checkout)
        == set(from_engine)
        == {
            "order.created",
            "order.fulfilled",
            "entitlement.created",
        }
    )
    assert from_checkout == from_engine
    assert all("member" in keys for keys in from_engine.values())
    (entitlement,) = session.scalars(select(Entitlement).where(Entitlement.order_id == recharge.id))
    (kept,) = session.scalars(select(Entitlement).where(Entitlement.order_id == card_key.id))
    assert set(entitlement.snapshot) == set(kept.snapshot)


def test_a_bundles_recharge_component_lasts_its_own_validity_not_the_bundles(
    app, session, partner_a, sim_factory, recharge_shop
):
    from app.supply import products
    from tests.factories import TEST_ACTOR, make_listing, make_product, stock_codes

    recharge = recharge_shop(sim_supplier(session, sim_factory(SIM_NO_CALLBACK_RATE=1), "S1"))
    music = recharge.product
    music.validity_days = 7
    video = make_product(session, "优酷", validity_days=31)
    stock_codes(session, video, 1)
    bundle = products.create_product(
        session,
        TEST_ACTOR,
        {
            "brand": "组合",
            "name": "年卡影音包",
            "category": "video",
            "fulfillment_type": "card_key",
            "face_value": video.face_value,
            "validity_days": 365,
            "status": "active",
            "components": [
                {"component_id": video.id, "quantity": 1},
                {"component_id": music.id, "quantity": 1},
            ],
        },
    )
    order = _place_m1(session, partner_a, make_listing(session, partner_a, bundle, points=1500))
    drain(app)
    session.expire_all()
    (submitted,) = session.scalars(
        select(Delivery).where(Delivery.order_id == order.id, Delivery.status == "submitted")
    )
    submitted.next_check_at = utcnow() - timedelta(seconds=1)
    session.commit()
    from app.fulfillment import jobs

    jobs.sweep()
    drain(app)
    session.expire_all()
    assert session.get_one(Order, order.id).status == "fulfilled"
    days = {
        e.product_id: (e.valid_until - e.valid_from).days
        for e in session.scalars(select(Entitlement).where(Entitlement.order_id == order.id))
    }
    assert days == {video.id: 31, music.id: 7}
