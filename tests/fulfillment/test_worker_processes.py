"""Real `rq worker` processes on PostgreSQL and Redis, the simulator over HTTP: a worker killed
(SIGKILL, whole process group) in the middle of a submit still ends in exactly one delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from app.core.db import utcnow
from app.core.queue import get_queue
from app.entitlements.models import Entitlement
from app.extensions import db
from app.fulfillment import jobs
from app.fulfillment.models import Delivery
from app.members.models import Member
from app.orders.models import Order
from tests.factories import (
    fund,
    make_listing,
    make_member,
    make_partner,
    make_product,
    make_supplier,
    place,
)

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _status(delivery_id: str) -> str:
    db.session.remove()
    return db.session().get_one(Delivery, delivery_id).status


def _worker_env(app, base: str | None = None) -> dict[str, str]:
    """The environment of a worker process: the test database, Redis and queue prefix."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "QUANYI_QUEUE_PREFIX": "test-",
        "QUANYI_WEBHOOK_ALLOW_PRIVATE": "1",  # the test's receiver listens on loopback
        "LOG_LEVEL": "WARNING",
    }
    if base:
        env["QUANYI_PUBLIC_BASE_URL"] = base
    return env


def _worker(
    env: dict[str, str], burst: bool, queues: tuple[str, ...] = ("test-fulfillment",)
) -> subprocess.Popen:
    rq = Path(sys.executable).parent / "rq"
    args = [
        str(rq),
        "worker",
        "-w",
        "app.core.queue.QuanyiWorker",
        "--url",
        env["REDIS_URL"],
        "-S",
        "json",
        *queues,
    ]
    return subprocess.Popen(
        args + (["--burst"] if burst else []),
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_worker_killed_mid_submit_still_delivers_exactly_once(app, sim_factory, monkeypatch):
    served = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=served.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{served.server_port}"
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", base)
    sim = sim_factory(SIM_SLOW_RATE=1, SIM_SLOW_MS=2500, SIM_NO_CALLBACK_RATE=1)
    env = _worker_env(app, base)
    try:
        session = db.session()
        partner = make_partner(session, "kill-test")
        fund(session, partner)
        supplier = make_supplier(
            session,
            "Slow",
            api_base_url=sim.url,
            credentials={"merchant": "quanyi", "secret": "sim-secret"},
        )
        product = make_product(
            session, "QQ音乐", fulfillment_type="direct_recharge", supplier=supplier
        )
        listing = make_listing(session, partner, product)
        member = make_member(session, partner, "k1", points=5000, phone="13912345678")
        order = place(session, partner, member, listing)
        delivery_id = session.scalars(
            select(Delivery.id).where(Delivery.order_id == order.id)
        ).one()
        assert get_queue("fulfillment", app).count == 1

        first = _worker(env, burst=False)
        assert _wait_for(lambda: _status(delivery_id) == "submitted"), "the worker never submitted"
        time.sleep(0.3)  # the request is at the supplier, which takes 2.5 s to answer
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert _status(delivery_id) == "submitted"
        # the supplier completes the order it was sent; nobody is told (no callback)
        assert _wait_for(lambda: delivery_id in sim.orders, 10)
        session = db.session()
        delivery = session.get_one(Delivery, delivery_id)
        delivery.next_check_at = utcnow() - timedelta(seconds=1)
        session.commit()
        jobs.sweep()  # recovery: a poll job is queued for the overdue delivery
        second = _worker(env, burst=True)
        second.wait(timeout=60)
        assert _status(delivery_id) == "delivered"

        session = db.session()
        assert session.get_one(Order, order.id).status == "fulfilled"
        entitlements = session.scalars(
            select(Entitlement).where(Entitlement.order_id == order.id)
        ).all()
        assert len(entitlements) == 1
        assert session.get_one(Member, member.id).points_balance == 5000 - listing.price_points
    finally:
        served.shutdown()


def test_callback_fulfils_and_a_signed_webhook_reaches_the_partner(app, sim_factory, monkeypatch):
    """accepted → supplier callback → fulfilled, with worker processes for both queues, and the
    partner's receiver gets `order.fulfilled` with a valid signature."""
    from werkzeug.wrappers import Request, Response

    from app.core.vault import current_vault
    from app.webhooks.endpoints import create_endpoint
    from tests.factories import TEST_ACTOR
    from tests.webhooks.test_webhooks import _readme_verifier

    received: list[tuple[dict, bytes]] = []

    @Request.application
    def receiver(request: Request) -> Response:
        received.append((dict(request.headers), request.get_data()))
        return Response("ok")

    hook = make_server("127.0.0.1", 0, receiver, threaded=True)
    served = make_server("127.0.0.1", 0, app, threaded=True)
    for server in (hook, served):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{served.server_port}"
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", base)
    sim = sim_factory(SIM_LATENCY_MS=200)
    env = _worker_env(app, base)
    worker = _worker(env, burst=False, queues=("test-fulfillment", "test-webhooks"))
    try:
        session = db.session()
        partner = make_partner(session, "hook-test")
        fund(session, partner)
        issued = create_endpoint(
            session,
            TEST_ACTOR,
            current_vault(),
            partner.id,
            f"http://127.0.0.1:{hook.server_port}/hook",
            ["order.fulfilled"],
            allow_private=True,
        )
        session.commit()
        supplier = make_supplier(
            session,
            "Fast",
            api_base_url=sim.url,
            credentials={"merchant": "quanyi", "secret": "sim-secret"},
        )
        product = make_product(
            session, "QQ音乐", fulfillment_type="direct_recharge", supplier=supplier
        )
        listing = make_listing(session, partner, product)
        member = make_member(session, partner, "h1", points=5000, phone="13912345678")
        order = place(session, partner, member, listing)

        def fulfilled() -> bool:
            db.session.remove()
            return db.session().get_one(Order, order.id).status == "fulfilled"

        assert _wait_for(fulfilled, 30), "the order never reached fulfilled"
        assert _wait_for(lambda: bool(received), 30), "no webhook arrived"
        ((headers, body),) = received
        assert headers["Quanyi-Event-Type"] == "order.fulfilled"
        assert _readme_verifier()(issued.secret, headers["Quanyi-Signature"], body)
        assert order.id in body.decode()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=10)
        served.shutdown()
        hook.shutdown()


def test_worker_processes_fail_over_poll_and_refund(app, sim_factory):
    """With `rq worker --burst` processes: a rejecting supplier → the second offer; no callback
    → polled → fulfilled; an order whose every offer fails → refunded exactly, `failed`."""
    from app.accounts.models import PartnerAccount
    from app.core.money import Money
    from app.supply import products
    from tests.factories import TEST_ACTOR, make_authorization

    env = _worker_env(app)
    session = db.session()
    partner = make_partner(session, "procs")
    fund(session, partner, amount_minor=50_000)
    member = make_member(session, partner, "p1", points=5000, phone="13912345678")
    creds = {"merchant": "quanyi", "secret": "sim-secret"}
    rejecting = make_supplier(
        session, "Rejecting", api_base_url=sim_factory(SIM_REJECT_RATE=1).url, credentials=creds
    )
    silent = make_supplier(
        session, "Silent", api_base_url=sim_factory(SIM_NO_CALLBACK_RATE=1).url, credentials=creds
    )
    product = make_product(
        session, "QQ音乐", fulfillment_type="direct_recharge", supplier=rejecting
    )
    products.create_offer(
        session,
        TEST_ACTOR,
        product,
        silent,
        {"supplier_sku": "S2", "cost": Money(2000), "priority": 20},
    )
    make_authorization(session, silent, "QQ音乐")
    session.commit()
    good_listing = make_listing(session, partner, product, points=1000, wholesale_minor=900)
    doomed = make_product(session, "WPS", fulfillment_type="direct_recharge", supplier=rejecting)
    doomed_listing = make_listing(session, partner, doomed, points=700, wholesale_minor=600)

    ok_order = place(session, partner, member, good_listing)
    bad_order = place(session, partner, member, doomed_listing)
    _worker(env, burst=True).wait(
        timeout=60
    )  # submit → rejected → failover; doomed → no offer left
    ok_id = session.scalars(select(Delivery.id).where(Delivery.order_id == ok_order.id)).one()
    assert _status(ok_id) == "submitted"
    session = db.session()
    delivery = session.get_one(Delivery, ok_id)
    delivery.next_check_at = utcnow() - timedelta(seconds=1)
    session.commit()
    jobs.sweep()
    _worker(env, burst=True).wait(timeout=60)  # poll → success
    assert _status(ok_id) == "delivered"
    session = db.session()
    assert session.get_one(Order, ok_order.id).status == "fulfilled"
    assert session.get_one(Order, bad_order.id).status == "failed"
    assert session.get_one(Member, member.id).points_balance == 5000 - 1000
    assert session.get_one(PartnerAccount, partner.id).balance_minor == 50_000 - 900


def test_a_busy_worker_outlives_a_redis_outage(app, tmp_path):
    """Redis goes away while the worker is in the middle of a job (RQ's loop then quits on the
    first Redis error); once Redis is back the same process takes the next job."""
    import redis as redis_client
    from rq import Queue
    from rq.serializers import JSONSerializer

    from tests.netproxy import TcpProxy

    real_port = int(app.config["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(real_port)
    queue = Queue(
        "test-outage", connection=redis_client.Redis(port=real_port), serializer=JSONSerializer
    )
    queue.empty()
    env = {**_worker_env(app), "REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"}
    worker = _worker(env, burst=False, queues=("test-outage",))
    try:
        busy = tmp_path / "busy"
        queue.enqueue("tests.fulfillment.outage_jobs.touch_after", str(busy), 2.0)
        assert _wait_for(lambda: Path(str(busy) + ".started").exists()), "the job never started"
        proxy.cut()  # mid-job
        assert _wait_for(busy.exists, 10)
        time.sleep(1.5)  # the worker meets the outage when it reports the job done
        proxy.restore()
        after = tmp_path / "after"
        queue.enqueue("tests.fulfillment.outage_jobs.touch_after", str(after), 0.0)
        assert _wait_for(after.exists, 30), "the worker did not come back after the outage"
        assert worker.poll() is None
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        proxy.cut()
        queue.empty()
