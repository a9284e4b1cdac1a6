"""Pagination, request ids, JSON logs, rate limits, health probes."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from app.auth.models import ApiClient
from app.core.logging import JsonFormatter, RequestContextFilter
from tests.factories import ApiUser, make_client, make_partner


def test_cursor_pagination_walks_every_row_once_and_survives_inserts(platform, session):
    created = {make_partner(session, f"page-{i}").id for i in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = platform.get("/api/v1/platform/partners" + query).get_json()
        seen += [p["id"] for p in body["data"]]
        if len(seen) == 2:
            make_partner(session, "page-late")  # inserted while paging: must not shift pages
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert created <= set(seen)
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?cursor=%%%", "?limit=abc"])
def test_bad_page_arguments_are_422(platform, query):
    response = platform.get("/api/v1/platform/partners" + query)
    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_error"


def test_request_id_is_echoed_or_generated(client):
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    generated = client.get("/healthz", headers={"X-Request-Id": "bad id <script>"}).headers[
        "X-Request-Id"
    ]
    assert generated and generated != "bad id <script>"
    assert client.get("/api/v1/nope").headers["X-Request-Id"]


def test_log_lines_are_json_with_the_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="quanyi.access")
    client.get("/healthz", headers={"X-Request-Id": "req-log-1"})
    record = next(r for r in caplog.records if r.name == "quanyi.access")
    assert RequestContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["request_id"] == "req-log-1"


def test_client_rate_limit_answers_429_problem_with_retry_after(client, session, partner_a):
    creds = make_client(session, partner_a)
    user = ApiUser.login(client, creds)
    session.get_one(ApiClient, creds.client_id).rate_limit = "3 per minute"
    session.commit()
    statuses = [user.get("/api/v1/partner").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = user.get("/api/v1/partner")
    assert limited.mimetype == "application/problem+json"
    assert limited.get_json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0


def test_rate_limits_are_per_client(client, session, partner_a):
    slow = make_client(session, partner_a)
    other = ApiUser.login(client, make_client(session, partner_a))
    slow_user = ApiUser.login(client, slow)
    session.scalars(
        select(ApiClient).where(ApiClient.id == slow.client_id)
    ).one().rate_limit = "1 per minute"
    session.commit()
    slow_user.get("/api/v1/partner")
    assert slow_user.get("/api/v1/partner").status_code == 429
    assert other.get("/api/v1/partner").status_code == 200


def test_a_revoked_token_spends_its_callers_limit_not_its_clients(client, session, partner_a):
    creds = make_client(session, partner_a)
    old, live = ApiUser.login(client, creds), ApiUser.login(client, creds)
    client.post("/oauth/revoke", data={"token": old.token}, headers=old.basic_auth())
    session.get_one(ApiClient, creds.client_id).rate_limit = "3 per minute"
    session.commit()
    assert {old.get("/api/v1/partner").status_code for _ in range(6)} <= {401, 429}
    assert [live.get("/api/v1/partner").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.postgres
def test_rate_limit_counters_live_in_redis_when_configured(app):
    from app.extensions import limiter

    assert app.config["REDIS_URL"]
    assert type(limiter.storage).__name__.lower().startswith("redis")
    assert limiter.storage.check()


def test_healthz_is_alive(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_database(client):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"


def test_readyz_names_redis_when_it_is_down(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delitem(app.extensions, "quanyi_redis", raising=False)
    response = client.get("/readyz")
    app.extensions.pop("quanyi_redis", None)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["checks"]["redis"] == "down"
    assert "redis" in body["detail"]


def test_ids_made_one_after_another_sort_in_that_order():
    from app.core.ids import ID_RE, new_id

    ids = [new_id("ace") for _ in range(5000)]  # many share a millisecond
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(ID_RE.match(i) for i in ids)
