"""Every error path answers application/problem+json with a stable `code`, never HTML or a trace."""

from __future__ import annotations

import base64
import json

import pytest

from tests.factories import partner_data


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def _partner_json(slug: str) -> dict:
    data = partner_data(slug)
    data["points"]["rate"]["value"] = {"amount": 100, "currency": "CNY"}
    return data


def test_unknown_route_is_404_problem(client):
    _problem(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_405_problem(client):
    _problem(client.delete("/api/v1/partner"), 405, "method_not_allowed")


def test_malformed_json_is_400(platform):
    response = platform.post(
        "/api/v1/platform/partners",
        data="{not json",
        content_type="application/json",
        headers={"Idempotency-Key": "k1"},
    )
    _problem(response, 400, "malformed_json")


def test_wrong_content_type_is_415(platform):
    response = platform.post(
        "/api/v1/platform/partners",
        data="slug=x",
        content_type="application/x-www-form-urlencoded",
        headers={"Idempotency-Key": "k1"},
    )
    _problem(response, 415, "unsupported_media_type")


def test_unknown_field_is_422_with_field_errors(platform):
    body = {**_partner_json("x-unknown"), "surprise": 1}
    response = platform.post(
        "/api/v1/platform/partners", json=body, headers={"Idempotency-Key": "k1"}
    )
    problem = _problem(response, 422, "validation_error")
    assert "surprise" in problem["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "bakery"), ("slug", "Not A Slug"), ("timezone", "Mars/Base")],
)
def test_invalid_field_values_are_named(platform, field, value):
    body = {**_partner_json("x-invalid"), field: value}
    response = platform.post(
        "/api/v1/platform/partners", json=body, headers={"Idempotency-Key": f"k-{field}"}
    )
    assert field in _problem(response, 422, "validation_error")["errors"]


def test_float_money_is_rejected(platform):
    body = _partner_json("x-float")
    body["points"]["rate"]["value"]["amount"] = 1.5
    response = platform.post(
        "/api/v1/platform/partners", json=body, headers={"Idempotency-Key": "k1"}
    )
    _problem(response, 422, "validation_error")


def test_body_over_one_mebibyte_is_413(platform):
    big = json.dumps({"name": "x" * (1024 * 1024 + 10)})
    response = platform.post(
        "/api/v1/platform/partners",
        data=big,
        content_type="application/json",
        headers={"Idempotency-Key": "k1"},
    )
    _problem(response, 413, "payload_too_large")


def test_unexpected_crash_is_500_problem_without_trace(api_a, monkeypatch):
    from app.partners import service

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service, "get_partner", explode)
    response = api_a.get("/api/v1/partner")
    body = _problem(response, 500, "internal_error")
    assert "secret internal detail" not in json.dumps(body)


def test_domain_conflict_has_its_code(platform, partner_a):
    response = platform.post(
        "/api/v1/platform/partners",
        json=_partner_json("partner-a"),
        headers={"Idempotency-Key": "k-dup"},
    )
    _problem(response, 409, "conflict")


def test_a_partial_update_with_half_a_money_is_422(platform, partner_a):
    """Found by the API fuzz test: PATCH loads partially, but a Money is all or nothing."""
    answer = platform.patch(
        f"/api/v1/platform/partners/{partner_a.id}", json={"points": {"rate": {"value": {}}}}
    )
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert "amount" in str(answer.get_json()["errors"])


def _suppliers(session) -> int:
    from sqlalchemy import func, select

    from app.supply.models import Supplier

    return session.scalar(select(func.count()).select_from(Supplier))


@pytest.mark.parametrize(
    ("who", "method", "path", "kwargs", "part"),
    [
        ("api", "GET", "/api/v1/orders/ord_%00", {}, "path"),
        ("api", "GET", "/api/v1/catalog?q=%00", {}, "query"),
        ("platform", "POST", "/api/v1/platform/suppliers", {"json": {"name": "a\x00"}}, "body"),
        (
            "api",
            "POST",
            "/api/v1/orders",
            {
                "json": {"member": "m1", "items": [{"listing": "lst_\x00"}], "payment": {}},
                "headers": {"Idempotency-Key": "k"},
            },
            "body",
        ),
        (
            "api",
            "POST",
            "/api/v1/orders",
            {"json": {}, "headers": {"Idempotency-Key": "k\x00"}},
            "Idempotency-Key",
        ),
    ],
)
def test_a_nul_character_is_422_and_writes_nothing(
    session, platform, api_a, who, method, path, kwargs, part
):
    """PostgreSQL cannot store U+0000 in text: without this check these answered 500 there."""
    before = _suppliers(session)
    user = platform if who == "platform" else api_a
    body = _problem(user.call(method, path, **kwargs), 422, "validation_error")
    assert list(body["errors"]) == [part]
    assert _suppliers(session) == before


@pytest.mark.parametrize(
    ("kwargs", "part"),
    [
        (
            {"headers": {"Authorization": "Basic " + base64.b64encode(b"cli\0:x").decode()}},
            "Authorization",
        ),
        ({"data": {"client_id": "cli\x00", "client_secret": "x"}}, "body"),
    ],
)
def test_a_nul_character_in_client_credentials_is_422(client, kwargs, part):
    data = {"grant_type": "client_credentials", **kwargs.pop("data", {})}
    response = client.post("/oauth/token", data=data, **kwargs)
    assert list(_problem(response, 422, "validation_error")["errors"]) == [part]


def test_the_text_backslash_u0000_is_not_a_nul_character(session, platform):
    response = platform.post("/api/v1/platform/suppliers", json={"name": "\\u0000 supplies"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == "\\u0000 supplies"


PRODUCT = {"brand": "优酷", "name": "月卡", "category": "video", "fulfillment_type": "card_key"}


@pytest.mark.parametrize(
    ("amount", "status"),
    [(2**31 - 1, 201), (2**31, 422), (10**30, 422)],
)
def test_an_amount_beyond_its_integer_column_is_422(session, platform, amount, status):
    """A product's face value is a PostgreSQL integer: 2**31 answered 500 there."""
    body = {**PRODUCT, "face_value": {"amount": amount, "currency": "CNY"}}
    response = platform.post("/api/v1/platform/products", json=body)
    assert response.status_code == status, response.get_json()
    if status == 422:
        assert _problem(response, 422, "validation_error")["errors"] == {
            "face_value": {"amount": ["Must be between -2147483647 and 2147483647."]}
        }


@pytest.mark.parametrize(("amount", "status"), [(2**31, 201), (10**15, 201), (10**15 + 1, 422)])
def test_a_ledger_amount_may_pass_an_integer_but_not_its_bound(
    session, platform, partner_a, amount, status
):
    """Top-ups land in bigint columns: more than an integer holds, less than a bigint sum."""
    response = platform.post(
        f"/api/v1/platform/partners/{partner_a.id}/account/top-ups",
        json={"amount": {"amount": amount}},
        headers={"Idempotency-Key": f"top-up-{amount}"},
    )
    assert response.status_code == status, response.get_json()
    if status == 422:
        assert list(_problem(response, 422, "validation_error")["errors"]) == ["amount"]


def test_json_nested_too_deep_is_a_400_not_a_crash(api_a):
    for depth in (50_000, 200):
        body = "[" * depth + "]" * depth
        answer = api_a.post(
            "/api/v1/orders",
            data=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": f"deep-{depth}"},
        )
        assert answer.status_code == 400, (depth, answer.get_json())
        assert answer.get_json()["code"] == "json_too_deep"


def test_retry_after_comes_only_with_429_and_503(app, client):
    assert "Retry-After" not in client.get("/api/v1/partner").headers  # 401
    assert "Retry-After" not in client.get("/healthz").headers
    limit, app.config["RATE_LIMIT"] = app.config["RATE_LIMIT"], "1 per minute"
    try:
        client.get("/api/v1/partner")
        limited = client.get("/api/v1/partner")
    finally:
        app.config["RATE_LIMIT"] = limit
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
