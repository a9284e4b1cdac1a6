"""Tenant isolation, walked over every route the app serves, so new routes are covered as they
are added: a partner's token reaches another partner's rows nowhere (404), sees none of them in
any list, and cannot use any platform route (403).

A new partner route with a path parameter must register here how to make partner B's row for
that parameter (OWNED_BY_B) and, when it takes a body, a valid body (BODIES); otherwise the walk
fails and says what is missing.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from app.partners.models import Partner

OWNED_BY_B: dict[str, Callable[[Session, Partner], str]] = {}
BODIES: dict[str, dict] = {}
SKIP_PREFIXES = ("/api/v1/docs", "/api/v1/openapi.json")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _rules(app: Flask, platform: bool):
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if not path.startswith("/api/v1/") or path.startswith(SKIP_PREFIXES):
            continue
        if path.startswith("/api/v1/platform/") != platform:
            continue
        for method in sorted(rule.methods & set(METHODS)):
            yield rule, method


def _fill(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<{name}>", values[name])
    return path


def _call(api, method: str, path: str, endpoint: str):
    kwargs: dict = {"headers": {"Idempotency-Key": f"walk-{method}-{path}"}}
    if getattr(api.http.application.view_functions[endpoint], "accepts_multipart", False):
        kwargs["data"] = {"file": (io.BytesIO(b"code\nX1\n"), "walk.csv")}
        kwargs["content_type"] = "multipart/form-data"
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = BODIES.get(endpoint, {})
    return api.call(method, path, **kwargs)


def test_partner_routes_answer_404_for_another_partners_ids(app, session, api_a, partner_b):
    b_ids = {name: make(session, partner_b) for name, make in OWNED_BY_B.items()}
    walked = 0
    for rule, method in _rules(app, platform=False):
        if not rule.arguments:
            continue
        missing = set(rule.arguments) - set(b_ids)
        assert not missing, f"{rule.rule}: add OWNED_BY_B factories for {sorted(missing)}"
        if method in ("POST", "PUT", "PATCH"):
            assert rule.endpoint in BODIES, f"{method} {rule.rule}: add a valid body to BODIES"
        response = _call(api_a, method, _fill(rule, b_ids), rule.endpoint)
        assert response.status_code == 404, f"{method} {rule.rule} -> {response.status_code}"
        assert response.mimetype == "application/problem+json"
        walked += 1
    assert walked == sum(1 for r, _ in _rules(app, platform=False) if r.arguments)


def test_partner_lists_never_show_another_partners_rows(app, session, api_a, partner_b):
    foreign = {partner_b.id} | {make(session, partner_b) for make in OWNED_BY_B.values()}
    walked = 0
    for rule, method in _rules(app, platform=False):
        if method != "GET" or rule.arguments:
            continue
        response = api_a.get(rule.rule)
        assert response.status_code == 200, f"GET {rule.rule} -> {response.status_code}"
        text = response.get_data(as_text=True)
        leaked = [i for i in foreign if i in text]
        assert not leaked, f"GET {rule.rule} shows partner B's {leaked}"
        walked += 1
    assert walked >= 1


def test_partner_token_cannot_use_any_platform_route(app, api_a, partner_b):
    walked = 0
    for rule, method in _rules(app, platform=True):
        path = _fill(rule, {name: partner_b.id for name in rule.arguments})
        response = _call(api_a, method, path, rule.endpoint)
        assert response.status_code == 403, f"{method} {rule.rule} -> {response.status_code}"
        assert response.get_json()["code"] == "insufficient_scope"
        walked += 1
    assert walked >= 5
