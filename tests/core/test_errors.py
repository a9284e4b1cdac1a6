"""Every error path answers application/problem+json with a stable `code`, never HTML or a trace."""

from __future__ import annotations

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
