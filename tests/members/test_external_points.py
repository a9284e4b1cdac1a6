"""A partner that keeps its members' points in its own ledger: checkout deducts them at the
partner's (simulated) points service over real HTTP, failed units are refunded there exactly
once, and no timeout or failure of the service loses an order or deducts twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.core.db import utcnow
from app.core.queue import drain, get_queue
from app.members import external
from app.members.jobs import send_due_moves
from app.members.models import ExternalPointsMove
from app.members.points_sim import create_points_simulator
from app.orders.models import Order
from tests.factories import (
    TEST_ACTOR,
    ApiUser,
    fund,
    make_client,
    make_listing,
    make_member,
    make_partner,
    make_product,
    sellable_card_key_listing,
    vault_for_tests,
)
from tests.fulfillment.conftest import sim_factory, sim_supplier  # noqa: F401 - fixture

SECRET = "bank-points-secret"


@dataclass
class Ledger:
    """The partner's simulated points service, as the test sees it."""

    url: str
    config: dict[str, Any]
    state: dict[str, Any]

    def balance(self, member: str) -> int:
        return int(self.state["balances"][member])

    def applied(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.state["requests"].values() if r["kind"] == kind]


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    sim = create_points_simulator({"PTS_SECRET": SECRET, "PTS_OPENING_BALANCE": 10_000})
    server = make_server("127.0.0.1", 0, sim, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Ledger(f"http://127.0.0.1:{server.server_port}", sim.config, sim.extensions["pts_ledger"])
    server.shutdown()


@pytest.fixture
def bank(session, ledger: Ledger, app: Flask, empty_queues):
    partner = make_partner(session, "ext-bank")
    external.configure(session, TEST_ACTOR, partner, vault_for_tests(), ledger.url, SECRET)
    session.commit()
    fund(session, partner)
    app.config["POINTS_SERVICE_TIMEOUT_SECONDS"] = 0.5
    yield partner
    app.config.pop("POINTS_SERVICE_TIMEOUT_SECONDS")


@pytest.fixture
def api(client, session, bank) -> ApiUser:
    return ApiUser.login(client, make_client(session, bank))


def _order(api: ApiUser, listing_id: str, member: str, points: int, key: str) -> Any:
    return api.post(
        "/api/v1/orders",
        json={
            "member": member,
            "items": [{"listing": listing_id, "quantity": 1}],
            "payment": {"points": points},
        },
        headers={"Idempotency-Key": key},
    )


def _moves(session, **where: Any) -> list[ExternalPointsMove]:
    session.expire_all()
    stmt = select(ExternalPointsMove).filter_by(**where).order_by(ExternalPointsMove.id)
    return list(session.scalars(stmt))


def test_an_api_order_deducts_at_the_partners_ledger_and_is_reported(session, bank, api, ledger):
    listing = sellable_card_key_listing(session, bank, points=800)
    make_member(session, bank, "m1")
    answer = _order(api, listing.id, "m1", 800, "k1")
    assert answer.status_code == 201, answer.get_json()
    assert ledger.balance("m1") == 10_000 - 800
    (move,) = _moves(session)
    assert (move.kind, move.status, move.amount) == ("deduct", "done", 800)
    assert move.order_id == answer.get_json()["id"]
    day = utcnow().astimezone().date().isoformat()  # Asia/Shanghai may be a day ahead
    report = api.get(f"/api/v1/points/moves?date={day}").get_json()["data"]
    report += api.get(f"/api/v1/points/moves?date={_next(day)}").get_json()["data"]
    assert [(m["id"], m["member"], m["kind"], m["status"]) for m in report] == [
        (move.id, "m1", "deduct", "done")
    ]


def _next(day: str) -> str:
    from datetime import date

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def test_a_refusal_by_the_partner_places_nothing(session, bank, api, ledger):
    listing = sellable_card_key_listing(session, bank, points=800)
    make_member(session, bank, "poor-1")
    answer = _order(api, listing.id, "poor-1", 800, "k1")
    assert answer.status_code == 422
    assert answer.get_json()["code"] == "insufficient_points"
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert _moves(session) == []


def test_points_are_moved_at_the_partner_not_through_our_api(session, bank, api):
    make_member(session, bank, "m1")
    answer = api.post(
        "/api/v1/members/m1/points",
        json={"type": "grant", "amount": 10, "reason": "x"},
        headers={"Idempotency-Key": "g1"},
    )
    assert answer.status_code == 409
    assert answer.get_json()["code"] == "points_kept_by_partner"


def test_a_lost_answer_is_resolved_by_a_status_query_not_a_guess(session, bank, api, ledger):
    listing = sellable_card_key_listing(session, bank, points=800)
    make_member(session, bank, "m1")
    ledger.config.update(PTS_LOST_ANSWER_RATE=1.0, PTS_LOST_ANSWER_MS=1500)
    answer = _order(api, listing.id, "m1", 800, "k1")
    assert answer.status_code == 201, answer.get_json()  # the status query said "done"
    assert ledger.balance("m1") == 10_000 - 800  # deducted once
    assert len(ledger.applied("deduct")) == 1


def test_an_unavailable_service_orders_nothing_and_takes_nothing(session, bank, api, ledger, app):
    listing = sellable_card_key_listing(session, bank, points=800)
    make_member(session, bank, "m1")
    ledger.config["PTS_ERROR_RATE"] = 1.0
    answer = _order(api, listing.id, "m1", 800, "k1")
    assert answer.status_code == 503
    assert answer.get_json()["code"] == "points_service_unavailable"
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    drain(app)  # the deduct sent is recorded, its outcome unknown until the request expires
    (move,) = _moves(session)
    assert (move.kind, move.status) == ("deduct", "pending")
    ledger.config["PTS_ERROR_RATE"] = 0.0
    _resolve_all(session, at=utcnow() + external.REQUEST_TTL + timedelta(seconds=1))
    (move,) = _moves(session)
    assert move.status == "void"  # never applied: nothing to refund
    assert ledger.state["requests"] == {}


def test_a_deduct_whose_order_fails_later_is_refunded_exactly_once(session, bank, api, ledger, app):
    listing = sellable_card_key_listing(session, bank, points=800, wholesale_minor=10**9)
    make_member(session, bank, "m1")
    answer = _order(api, listing.id, "m1", 800, "k1")  # the partner account cannot pay
    assert answer.status_code == 402
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    drain(app)  # the job records the deduct, finds it done, refunds it
    deduct, refund = _moves(session)
    assert (deduct.kind, deduct.status, refund.kind, refund.status) == (
        "deduct", "done", "refund", "done",
    )  # fmt: skip
    assert ledger.balance("m1") == 10_000
    send_due_moves()
    drain(app)
    assert len(ledger.applied("refund")) == 1


def test_a_deduct_is_settled_even_when_the_process_dies_before_the_commit(
    session, bank, api, ledger, app, monkeypatch
):
    listing = sellable_card_key_listing(session, bank, points=800, wholesale_minor=10**9)
    make_member(session, bank, "m1")
    # a process killed after the deduct runs neither the commit nor the rollback hooks
    monkeypatch.setattr(external, "settle_later", lambda _session: None)
    answer = _order(api, listing.id, "m1", 800, "k1")
    assert answer.status_code == 402
    drain(app)
    assert _moves(session) == []  # nothing knows of the deduct yet
    assert ledger.balance("m1") == 10_000 - 800
    _run_scheduled_checks(app)
    deduct, refund = _moves(session)
    assert (deduct.kind, deduct.status, refund.kind, refund.status) == (
        "deduct", "done", "refund", "done",
    )  # fmt: skip
    assert ledger.balance("m1") == 10_000
    _run_scheduled_checks(app)
    assert len(ledger.applied("refund")) == 1


def test_no_deduct_is_sent_when_its_check_cannot_be_scheduled(
    session, bank, api, ledger, monkeypatch
):
    import redis
    from rq import Queue

    def down(*_args: Any, **_kwargs: Any) -> None:
        raise redis.ConnectionError("down")

    listing = sellable_card_key_listing(session, bank, points=800)
    make_member(session, bank, "m1")
    monkeypatch.setattr(Queue, "enqueue_in", down)
    answer = _order(api, listing.id, "m1", 800, "k1")
    assert answer.status_code == 503
    assert answer.get_json()["code"] == "points_service_unavailable"
    assert ledger.state["requests"] == {}  # the partner was never asked
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_the_scheduled_check_of_a_placed_order_changes_nothing(session, bank, api, ledger, app):
    listing = sellable_card_key_listing(session, bank, points=800)
    make_member(session, bank, "m1")
    assert _order(api, listing.id, "m1", 800, "k1").status_code == 201
    _run_scheduled_checks(app)
    (move,) = _moves(session)
    assert (move.kind, move.status) == ("deduct", "done")
    assert ledger.balance("m1") == 10_000 - 800
    assert ledger.applied("refund") == []


def _run_scheduled_checks(app: Flask) -> None:
    """Run the scheduled deduct checks as the scheduler will, but not one before its time."""
    queue = get_queue("default", app)
    registry = queue.scheduled_job_registry
    now = utcnow()
    assert registry.get_jobs_to_schedule(int(now.timestamp())) == []
    due = int((now + external.SETTLE_CHECK_DELAY).timestamp()) + 1
    assert external.SETTLE_CHECK_DELAY > external.REQUEST_TTL  # a status answer is final then
    for job_id in registry.get_jobs_to_schedule(due):
        registry.remove(job_id)
        queue.enqueue_job(queue.fetch_job(job_id))
    drain(app)


def test_a_failed_recharge_is_refunded_at_the_partner_once_with_retries(
    session,
    bank,
    api,
    ledger,
    app,
    sim_factory,  # noqa: F811 - the fixture imported above
):
    supplier = sim_supplier(session, sim_factory(SIM_FAILURE_RATE=1.0), "Failing")
    product = make_product(
        session, "网易云音乐", fulfillment_type="direct_recharge", supplier=supplier
    )
    listing = make_listing(session, bank, product, points=1000, wholesale_minor=900)
    make_member(session, bank, "m1", phone="13912345678")
    ledger.config["PTS_ERROR_RATE"] = 0.0
    answer = _order(api, listing.id, "m1", 1000, "k1")
    assert answer.status_code == 201, answer.get_json()
    assert ledger.balance("m1") == 9_000
    ledger.config["PTS_ERROR_RATE"] = 1.0  # the refund's first sending fails
    _until_order_settles(session, app, answer.get_json()["id"])
    deduct, refund = _moves(session)
    assert (refund.kind, refund.status, refund.amount) == ("refund", "pending", 1000)
    assert refund.next_attempt_at - refund.updated_at >= external.REFUND_BACKOFF[0] - timedelta(
        seconds=1
    )
    ledger.config["PTS_ERROR_RATE"] = 0.0
    _resolve_all(session, at=utcnow() + timedelta(minutes=2))
    _resolve_all(session, at=utcnow() + timedelta(minutes=30))
    assert _moves(session)[1].status == "done"
    assert ledger.balance("m1") == 10_000
    assert len(ledger.applied("refund")) == 1


def _until_order_settles(session, app: Flask, order_id: str) -> None:
    """Submit the recharge, then ask the supplier until it has answered."""
    import time

    from app.fulfillment import jobs
    from app.fulfillment.models import Delivery

    drain(app)
    for _ in range(100):
        session.expire_all()
        if session.get_one(Order, order_id).status in ("failed", "fulfilled"):
            drain(app)
            return
        for delivery in session.scalars(select(Delivery).where(Delivery.order_id == order_id)):
            delivery.next_check_at = utcnow() - timedelta(seconds=1)
        session.commit()
        jobs.sweep()
        drain(app)
        time.sleep(0.05)
    raise AssertionError("the order never settled")


def _resolve_all(session, at) -> None:
    """The sweep at a later time: every pending move due by then, once."""
    from app.extensions import db

    with db.transaction() as tx:
        due = external.due_moves(tx, at)
    for move_id in due:
        with db.transaction() as tx:
            external.attempt(tx, vault_for_tests(), move_id, at)
