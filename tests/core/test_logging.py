"""What an operator finds in the logs: every access line names its error code, the client that
asked (refusals and token requests included) and the ids the request touched; an outgoing call
made by a background job names the job."""

from __future__ import annotations

import json
import logging

import pytest

from app.core.logging import JsonFormatter, RequestContextFilter
from app.core.queue import drain
from tests.factories import basic_auth, fund, make_member, sellable_card_key_listing
from tests.webhooks.test_webhooks import Receiver


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestContextFilter())  # as configure_logging installs it
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(JsonFormatter().format(record)))

    def access(self, path: str) -> dict:
        return next(r for r in self.lines if r["logger"] == "quanyi.access" and r["path"] == path)


@pytest.fixture
def logged():
    lines = _Lines()
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(lines)
    yield lines
    root.removeHandler(lines)
    root.setLevel(previous)


def test_a_refusal_names_its_code_and_the_client(api_a, logged):
    assert api_a.get("/api/v1/platform/partners").status_code == 403
    line = logged.access("/api/v1/platform/partners")
    assert (line["code"], line["client_id"]) == ("insufficient_scope", api_a.creds.client_id)


def test_a_failed_token_request_names_the_client_it_claimed(client, api_a, logged):
    denied = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(api_a.creds.client_id, "qysk_wrong"),
    )
    assert denied.status_code == 401
    line = logged.access("/oauth/token")
    assert (line["code"], line["client_id"]) == ("invalid_client", api_a.creds.client_id)


def test_an_order_line_names_the_order_and_member(api_a, session, partner_a, logged):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    make_member(session, partner_a, "m-log", points=5000)
    placed = api_a.post(
        "/api/v1/orders",
        json={
            "member": "m-log",
            "items": [{"listing": listing.id, "quantity": 1}],
            "payment": {"points": listing.price_points},
        },
        headers={"Idempotency-Key": "log-1"},
    ).get_json()
    line = logged.access("/api/v1/orders")
    assert (line["order_id"], line["member"], line["code"]) == (placed["id"], "m-log", None)
    read = api_a.get(f"/api/v1/orders/{placed['id']}")
    assert read.status_code == 200
    assert logged.access(f"/api/v1/orders/{placed['id']}")["order_id"] == placed["id"]


def test_an_outgoing_call_of_a_job_names_the_job(app, api_a, empty_queues, logged):
    receiver = Receiver()
    try:
        endpoint = api_a.post(
            "/api/v1/webhook-endpoints", json={"url": receiver.url, "events": []}
        ).get_json()["endpoint"]
        api_a.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test")
        drain(app)
    finally:
        receiver.server.shutdown()
    [sent] = [r for r in logged.lines if r["logger"] == "httpx"]
    assert sent["job_id"] and sent["request_id"] is None
    assert receiver.url.split("/hook")[0] in sent["msg"]
