"""Signed webhooks from the outbox: dispatch, signature (as the README tells partners to
check it), retries with backoff, disabling, rotation, replay, the delivery log."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import threading
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

import pytest
from sqlalchemy import select, text
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.core.audit import AuditLog
from app.core.db import utcnow
from app.core.queue import drain, get_queue
from app.webhooks import jobs, outbox, sending
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import fund, make_member, place, sellable_card_key_listing


def _readme_code(language: str, marker: str) -> str:
    """The README's `language` block that holds `marker`: tested as shipped."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    return next(
        b for b in re.findall(rf"```{language}\n(.*?)```", readme, flags=re.S) if marker in b
    )


def _readme_verifier():
    code = _readme_code("python", "verify_quanyi_signature")
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - the README's own snippet, tested as shipped
    return namespace["verify_quanyi_signature"]


class Receiver:
    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict, bytes]] = []
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    @Request.application
    def app(self, request: Request) -> Response:
        self.received.append((dict(request.headers), request.get_data()))
        return Response("ok", status=self.status)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(autouse=True)
def _start_with_empty_queues(empty_queues) -> None:
    """Every test here runs queued jobs."""


def _endpoint(api, url: str, events: list[str] | None = None) -> dict:
    response = api.post("/api/v1/webhook-endpoints", json={"url": url, "events": events or []})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _order(session, partner):
    fund(session, partner)
    listing = sellable_card_key_listing(session, partner, codes=2)
    return place(session, partner, make_member(session, partner, "w1", points=5000), listing)


def _deliver_all(app) -> None:
    jobs.periodic()
    drain(app)


def test_order_events_arrive_signed_and_verifiable(app, api_a, session, partner_a, receiver):
    issued = _endpoint(api_a, receiver.url)
    secret = issued["secret"]
    assert secret.startswith("whsec_")
    raw = " ".join(
        str(v) for row in session.execute(text("SELECT * FROM webhook_endpoints")) for v in row
    )
    assert secret not in raw
    order = _order(session, partner_a)
    _deliver_all(app)
    types = sorted(h["Quanyi-Event-Type"] for h, _ in receiver.received)
    assert types == ["entitlement.created", "order.created", "order.fulfilled"]
    verify = _readme_verifier()
    for headers, body in receiver.received:
        assert verify(secret, headers["Quanyi-Signature"], body)
        assert not verify("whsec_wrong", headers["Quanyi-Signature"], body)
    assert order.id in receiver.received[0][1].decode()
    log = api_a.get(f"/api/v1/webhook-endpoints/{issued['endpoint']['id']}/deliveries").get_json()[
        "data"
    ]
    assert {d["status"] for d in log} == {"succeeded"} and all(
        d["last_status_code"] == 200 for d in log
    )


def _shop_with_an_endpoint(app, api, session, partner, receiver, buyers: int):
    """An endpoint receiving everything, a listing with a code per buyer, the buyers and the
    webhooks queue."""
    _endpoint(api, receiver.url)
    fund(session, partner)
    listing = sellable_card_key_listing(session, partner, codes=buyers)
    members = [make_member(session, partner, f"b{n}", points=5000) for n in range(buyers)]
    return listing, members, get_queue("webhooks", app)


def test_one_dispatch_job_serves_every_commit_until_it_is_done(
    app, api_a, session, partner_a, receiver
):
    listing, members, webhooks = _shop_with_an_endpoint(app, api_a, session, partner_a, receiver, 4)
    place(session, partner_a, members[0], listing)
    place(session, partner_a, members[1], listing)
    assert webhooks.count == 1  # the second commit found a dispatch job waiting
    # while that job runs, orders keep coming: it takes them on its next pass, no new job
    real_pass = jobs._dispatch_pass
    passes: list[int] = []

    def a_pass_while_orders_arrive() -> int:
        passes.append(real_pass())
        if len(passes) == 1:
            place(session, partner_a, members[2], listing)
        return passes[-1]

    with patch.object(jobs, "_dispatch_pass", a_pass_while_orders_arrive):
        drain(app)
    assert passes == [6, 3, 0, 0]  # busy, busy, idle → flag cleared → last pass
    assert len(receiver.received) == 9 and webhooks.count == 0
    place(session, partner_a, members[3], listing)
    assert webhooks.count == 1  # once the job is done, a commit enqueues anew
    drain(app)
    assert len(receiver.received) == 12


def test_a_failed_dispatch_leaves_no_flag_behind(app, api_a, session, partner_a, receiver):
    listing, members, webhooks = _shop_with_an_endpoint(app, api_a, session, partner_a, receiver, 2)
    place(session, partner_a, members[0], listing)

    def failing_pass() -> int:
        raise RuntimeError("database went away")

    with patch.object(jobs, "_dispatch_pass", failing_pass):
        drain(app)  # the job fails (rq records it)
    place(session, partner_a, members[1], listing)
    assert webhooks.count == 1  # the flag went with the failed job: this commit enqueued
    drain(app)
    assert len(receiver.received) == 6  # both orders' events


def test_event_filter(app, api_a, session, partner_a, receiver):
    _endpoint(api_a, receiver.url, ["order.fulfilled"])
    _order(session, partner_a)
    _deliver_all(app)
    assert [h["Quanyi-Event-Type"] for h, _ in receiver.received] == ["order.fulfilled"]


def test_another_partners_events_never_reach_my_endpoint(app, api_a, session, partner_b, receiver):
    _endpoint(api_a, receiver.url)
    _order(session, partner_b)
    _deliver_all(app)
    assert receiver.received == []


def test_failures_retry_with_growing_backoff_then_give_up(app, api_a, session, partner_a, receiver):
    receiver.status = 500
    _endpoint(api_a, receiver.url, ["order.fulfilled"])
    _order(session, partner_a)
    _deliver_all(app)
    delivery = session.scalars(select(WebhookDelivery)).one()
    gaps = []
    for _ in range(3):
        session.refresh(delivery)
        gaps.append(delivery.next_attempt_at - utcnow())
        delivery.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.commit()
        _deliver_all(app)
    session.refresh(delivery)
    assert (
        delivery.attempts == 4 and delivery.status == "pending" and delivery.last_status_code == 500
    )
    assert gaps[0] < gaps[1] < gaps[2]
    delivery.created_at = utcnow() - timedelta(hours=26)  # past the retry window
    delivery.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    _deliver_all(app)
    session.refresh(delivery)
    assert delivery.status == "failed"


def test_an_endpoint_failing_for_days_is_disabled_with_an_audit_row(
    app, api_a, session, partner_a, receiver
):
    receiver.status = 503
    issued = _endpoint(api_a, receiver.url, ["order.fulfilled"])
    endpoint = session.get_one(WebhookEndpoint, issued["endpoint"]["id"])
    endpoint.failing_since = utcnow() - timedelta(days=4)
    session.commit()
    _order(session, partner_a)
    _deliver_all(app)
    session.refresh(endpoint)
    assert endpoint.status == "disabled"
    assert session.scalars(
        select(AuditLog).where(AuditLog.action == "webhook_endpoint.disabled")
    ).one()


def test_rotation_sends_both_signatures(app, api_a, session, partner_a, receiver):
    old = _endpoint(api_a, receiver.url, ["order.fulfilled"])
    rotated = api_a.post(
        f"/api/v1/webhook-endpoints/{old['endpoint']['id']}/rotate-secret"
    ).get_json()
    _order(session, partner_a)
    _deliver_all(app)
    ((headers, body),) = receiver.received
    assert headers["Quanyi-Signature"].count("v1=") == 2
    verify = _readme_verifier()
    assert verify(old["secret"], headers["Quanyi-Signature"], body)
    assert verify(rotated["secret"], headers["Quanyi-Signature"], body)


def test_replay_sends_again_and_deleted_endpoints_get_nothing(
    app, api_a, session, partner_a, receiver
):
    issued = _endpoint(api_a, receiver.url, ["order.fulfilled"])
    _order(session, partner_a)
    _deliver_all(app)
    event_id = receiver.received[0][0]["Quanyi-Event-Id"]
    replay = api_a.post(f"/api/v1/events/{event_id}/replay")
    assert replay.status_code == 202 and replay.get_json() == {"deliveries": 1}
    _deliver_all(app)
    assert len(receiver.received) == 2
    assert (
        api_a.call("DELETE", f"/api/v1/webhook-endpoints/{issued['endpoint']['id']}").status_code
        == 204
    )
    api_a.post(f"/api/v1/events/{event_id}/replay")
    _deliver_all(app)
    assert len(receiver.received) == 2
    assert api_a.get("/api/v1/webhook-endpoints").get_json()["data"] == []


def test_platform_endpoints_receive_platform_events_only(
    app, platform, api_a, session, partner_a, receiver
):
    from app.supply import suppliers
    from tests.factories import TEST_ACTOR

    created = platform.post(
        "/api/v1/platform/webhook-endpoints",
        json={"url": receiver.url, "events": ["supply.authorization_lapsed"]},
    )
    assert created.status_code == 201
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    suppliers.refresh_availability(
        session, TEST_ACTOR, suppliers.platform_today() + timedelta(days=400)
    )
    session.commit()
    _deliver_all(app)
    types = {h["Quanyi-Event-Type"] for h, _ in receiver.received}
    assert types == {"supply.authorization_lapsed"}
    assert any(listing.product_id.encode() in body for _, body in receiver.received)
    assert api_a.get("/api/v1/webhook-endpoints").get_json()["data"] == []  # not the partner's
    listed = platform.get("/api/v1/platform/webhook-endpoints").get_json()["data"]
    assert [e["id"] for e in listed] == [created.get_json()["endpoint"]["id"]]


def test_a_suspended_partners_webhooks_wait_until_it_is_active(
    app, api_a, platform, session, partner_a, receiver
):
    _endpoint(api_a, receiver.url)
    platform.patch(f"/api/v1/platform/partners/{partner_a.id}", json={"status": "suspended"})
    _order(session, partner_a)
    _deliver_all(app)
    assert receiver.received == []
    platform.patch(f"/api/v1/platform/partners/{partner_a.id}", json={"status": "active"})
    session.execute(
        text("UPDATE webhook_deliveries SET next_attempt_at = NULL, lease_until = NULL")
    )
    session.commit()
    _deliver_all(app)
    assert len(receiver.received) == 3


def test_webhook_urls_are_logged_without_their_userinfo_or_query(
    app, api_a, session, partner_a, receiver, caplog
):
    secret_url = receiver.url.replace("http://", "http://hookuser:pw-s3cr3t@") + "?token=q-s3cr3t"
    _endpoint(api_a, secret_url)
    caplog.set_level(logging.DEBUG)
    _order(session, partner_a)
    _deliver_all(app)
    assert receiver.received, "the webhook was sent"
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)
    assert "s3cr3t" not in "\n".join(r.getMessage() for r in caplog.records)


def _pending_deliveries(app, api, session, partner, receiver, count: int) -> list[str]:
    """`count` deliveries of `partner` whose first attempt failed and whose retry is due."""
    receiver.status = 500
    _endpoint(api, receiver.url, ["order.created"])
    fund(session, partner)
    listing = sellable_card_key_listing(session, partner, codes=count)
    for i in range(count):
        place(session, partner, make_member(session, partner, f"r{i}", points=5000), listing)
    _deliver_all(app)
    session.execute(text("UPDATE webhook_deliveries SET next_attempt_at = :due"), {"due": utcnow()})
    session.commit()
    return list(session.scalars(select(WebhookDelivery.id)))


def test_sweeping_again_stages_no_second_send_for_a_delivery(
    app, api_a, session, partner_a, receiver
):

    ids = _pending_deliveries(app, api_a, session, partner_a, receiver, 3)
    queue = get_queue("webhooks", app)
    queue.empty()
    for k in range(1, 6):  # sweeps 20 s apart while the sends still wait in the queue
        sending.retry_due(session, utcnow() + timedelta(seconds=20 * k))
        session.commit()
    assert queue.count == len(ids) == 3


def test_a_send_honours_its_backoff_whoever_asks(app, api_a, session, partner_a, receiver):
    ids = _pending_deliveries(app, api_a, session, partner_a, receiver, 1)
    later = utcnow() + timedelta(minutes=10)
    session.execute(text("UPDATE webhook_deliveries SET next_attempt_at = :t"), {"t": later})
    session.commit()
    sent_before = len(receiver.received)
    jobs.send_webhook(ids[0])  # a stray job, early
    assert len(receiver.received) == sent_before
    session.expire_all()
    assert session.get_one(WebhookDelivery, ids[0]).attempts == 1


def test_an_endpoint_has_one_attempt_in_flight_at_most(app, api_a, session, partner_a, receiver):
    from app.core.vault import current_vault

    first, second = _pending_deliveries(app, api_a, session, partner_a, receiver, 2)
    now = utcnow()
    assert sending.prepare_send(session, current_vault(), first, now) is not None
    session.commit()  # its request is on the wire
    assert sending.prepare_send(session, current_vault(), second, now) is None
    session.commit()
    deferred = session.get_one(WebhookDelivery, second)
    assert deferred.next_attempt_at > now and deferred.lease_until is None


def test_the_dispatcher_sends_nothing_itself_but_enqueues_one_job_per_delivery(
    app, api_a, api_b, session, partner_a, partner_b, receiver
):
    """One partner's slow receiver can hold no one else: the dispatcher, shared by every
    partner, only enqueues; each send is a job with the short timeout."""
    for api in (api_a, api_b):
        _endpoint(api, receiver.url, ["order.created"])
    for partner in (partner_a, partner_b):
        fund(session, partner)
        listing = sellable_card_key_listing(session, partner, codes=1)
        place(session, partner, make_member(session, partner, "s1", points=5000), listing)
    queue = get_queue("webhooks", app)
    queue.empty()
    sent_before = len(receiver.received)
    assert outbox.dispatch_events(session, utcnow()) >= 2
    session.commit()
    assert len(receiver.received) == sent_before  # nothing sent by the dispatcher
    deliveries = session.scalars(select(WebhookDelivery.id)).all()
    assert len(deliveries) == 2
    assert sorted(job.args[0] for job in queue.get_jobs()) == sorted(deliveries)
    assert {job.func_name for job in queue.get_jobs()} == {"app.webhooks.jobs.send_webhook"}


def test_a_test_ping_reaches_only_that_endpoint_signed(app, api_a, api_b, receiver):
    tested = _endpoint(api_a, receiver.url, events=["order.created"])
    other = Receiver()
    try:
        _endpoint(api_a, other.url)
        endpoint_id = tested["endpoint"]["id"]
        assert api_b.post(f"/api/v1/webhook-endpoints/{endpoint_id}/test").status_code == 404
        sent = api_a.post(f"/api/v1/webhook-endpoints/{endpoint_id}/test")
        assert sent.status_code == 202 and sent.get_json()["status"] == "pending"
        _deliver_all(app)
        [(headers, body)] = receiver.received
        assert other.received == []
    finally:
        other.server.shutdown()
    assert headers["Quanyi-Event-Type"] == "ping"
    assert re.fullmatch(r"Quanyi-Webhooks/\d+\.\d+\.\d+", headers["User-Agent"])
    assert json.loads(body)["data"] == {"endpoint_id": endpoint_id}
    assert _readme_verifier()(tested["secret"], headers["Quanyi-Signature"], body)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_readme_node_verifier_accepts_our_signature_only(app, api_a, receiver):
    issued = _endpoint(api_a, receiver.url)
    api_a.post(f"/api/v1/webhook-endpoints/{issued['endpoint']['id']}/test")
    _deliver_all(app)
    [(headers, body)] = receiver.received
    check = _readme_code("javascript", "verifyQuanyiSignature") + (
        "const [secret, header, body] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(String(verifyQuanyiSignature(secret, header, Buffer.from(body))));"
    )

    def node_says(secret: str, raw: bytes) -> str:
        given = json.dumps([secret, headers["Quanyi-Signature"], raw.decode()])
        return subprocess.run(
            ["node", "-e", check], input=given, capture_output=True, text=True, check=True
        ).stdout

    assert node_says(issued["secret"], body) == "true"
    assert node_says("whsec_wrong", body) == "false"
    assert node_says(issued["secret"], body.replace(b"ping", b"pong")) == "false"
