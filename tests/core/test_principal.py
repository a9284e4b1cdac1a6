"""Principals and permissions: every API route declares what it needs, from one table; a
web blueprint (tests/web_stub.py, standing in for the portal) gets staff principals from its own
kind of credential and answers errors as pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import PARTNER_SCOPES, PLATFORM_SCOPES
from app.core.audit import AuditLog
from app.core.principal import (
    MEMBER_PERMISSIONS,
    PARTNER_ROLES,
    PERMISSIONS,
    PLATFORM_ROLES,
    requires,
)
from tests.factories import ApiUser, make_client

# routes anyone may call: the token endpoints authenticate the client themselves, the docs and
# the spec are public
PUBLIC_BLUEPRINTS = ("apidocs.",)  # the published documents and their pages


def test_every_api_route_declares_its_permissions(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith(PUBLIC_BLUEPRINTS):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "required_permissions", None) is None:
            undeclared.append(f"{sorted(rule.methods - {'HEAD', 'OPTIONS'})} {rule.rule}")
    assert not undeclared, "routes without @requires:\n" + "\n".join(undeclared)


def test_scopes_and_roles_name_permissions_of_the_one_table():
    # every permission is an API scope, except a member's (a mall session's, never a token's)
    assert set(PARTNER_SCOPES) | set(PLATFORM_SCOPES) | set(MEMBER_PERMISSIONS) == set(PERMISSIONS)
    assert not set(MEMBER_PERMISSIONS) & (set(PARTNER_SCOPES) | set(PLATFORM_SCOPES))
    for roles in (PARTNER_ROLES, PLATFORM_ROLES):
        for role, granted in roles.items():
            assert granted <= set(PERMISSIONS), role
    assert all("platform" not in granted for granted in PARTNER_ROLES.values())


def test_an_unknown_permission_is_refused_when_the_route_is_declared():
    with pytest.raises(ValueError, match="unknown permissions"):
        requires("orders:delete")


def test_a_token_without_the_permission_is_403(client, session, partner_a):
    creds = make_client(session, partner_a, scopes=["catalog:read"])
    api = ApiUser.login(client, creds)
    response = api.post("/api/v1/orders", json={}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 403
    assert response.get_json()["code"] == "insufficient_scope"
    assert api.get("/api/v1/catalog").status_code == 200


def test_the_audit_actor_is_the_requests_principal(api_a, session):
    assert api_a.put("/api/v1/members/who", json={"display_name": "x"}).status_code == 200
    row = session.scalars(select(AuditLog).where(AuditLog.action == "member.created")).one()
    assert (row.actor_kind, row.actor_id) == ("client", api_a.creds.client_id)


def test_a_staff_principal_is_checked_against_its_roles_permissions(client, partner_a):
    def as_role(role, path, method="GET"):
        headers = {"X-Test-Role": role, "X-Test-Partner": partner_a.id}
        return client.open(path, method=method, headers=headers)

    viewer = as_role("viewer", "/page/orders")
    assert viewer.status_code == 200 and viewer.text == f"orders of {partner_a.id}"
    for role, granted in PARTNER_ROLES.items():
        expected = 200 if "entitlements:reveal" in granted else 403
        assert as_role(role, "/page/reveal", "POST").status_code == expected, role
    assert as_role("viewer", "/page/reveal", "POST").status_code == 403


def test_a_web_blueprint_answers_errors_as_pages_and_ignores_bearer_tokens(
    client, partner_a, api_a
):
    http = client
    signed_out = http.get("/page/orders", headers=api_a.headers())  # a token is no session
    assert signed_out.status_code == 401
    assert signed_out.mimetype == "text/html" and "<h1>Unauthorized</h1>" in signed_out.text
    missing = http.get(
        "/page/missing", headers={"X-Test-Role": "admin", "X-Test-Partner": partner_a.id}
    )
    assert missing.status_code == 404 and "No such order." in missing.text
    assert http.get("/api/v1/catalog").mimetype == "application/problem+json"


def test_a_suspended_partners_staff_are_refused(client, session, partner_a):
    partner_a.status = "suspended"
    session.commit()
    response = client.get(
        "/page/orders", headers={"X-Test-Role": "owner", "X-Test-Partner": partner_a.id}
    )
    assert response.status_code == 403 and "suspended" in response.text
