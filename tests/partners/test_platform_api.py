"""The platform manages partners and their API clients; every change is audited."""

from __future__ import annotations

from sqlalchemy import select

from app.core.audit import AuditLog
from tests.core.test_errors import _partner_json
from tests.factories import ApiUser, request_token


def _audit(session, action: str, target_id: str) -> list[AuditLog]:
    return list(
        session.scalars(
            select(AuditLog).where(AuditLog.action == action, AuditLog.target_id == target_id)
        )
    )


def test_create_read_and_update_a_partner(platform, session):
    created = platform.post(
        "/api/v1/platform/partners",
        json=_partner_json("acme-air"),
        headers={"Idempotency-Key": "c1"},
    )
    assert created.status_code == 201
    partner = created.get_json()
    assert partner["id"].startswith("prt_")
    assert partner["points"]["rate"]["value"] == {"amount": 100, "currency": "CNY"}

    updated = platform.patch(
        f"/api/v1/platform/partners/{partner['id']}",
        json={"name": "Acme Airlines", "branding": {"primary_color": "#000000"}},
    )
    assert updated.status_code == 200
    body = updated.get_json()
    assert body["name"] == "Acme Airlines"
    assert body["branding"]["primary_color"] == "#000000"
    assert body["branding"]["accent_color"] == "#445566"  # untouched fields stay
    assert platform.get(f"/api/v1/platform/partners/{partner['id']}").get_json()["name"] == (
        "Acme Airlines"
    )
    (row,) = _audit(session, "partner.updated", partner["id"])
    assert row.before["name"] == "Partner acme-air" and row.after["name"] == "Acme Airlines"
    assert row.actor_kind == "client" and row.actor_id == platform.creds.client_id


def test_unknown_partner_is_404(platform):
    response = platform.get("/api/v1/platform/partners/prt_00000000000000000000000000")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_client_lifecycle_create_rotate_revoke(client, platform, partner_a, session):
    base = f"/api/v1/platform/partners/{partner_a.id}/clients"
    created = platform.post(base, json={"name": "bank backend", "scopes": ["catalog:read"]})
    assert created.status_code == 201
    issued = {**created.get_json()["client"], "client_secret": created.get_json()["client_secret"]}
    assert issued["client_secret"].startswith("qysk_")
    assert issued["scopes"] == ["catalog:read"]

    listed = platform.get(base).get_json()
    assert [c["id"] for c in listed] == [issued["id"]]
    assert "client_secret" not in listed[0]

    from tests.factories import Credentials

    creds = Credentials(issued["id"], issued["client_secret"], partner_a.id)
    assert request_token(client, creds).status_code == 200
    user = ApiUser.login(client, creds)

    rotated = platform.post(f"{base}/{issued['id']}/rotate", json={"grace_seconds": 0})
    assert rotated.status_code == 200
    new_creds = Credentials(issued["id"], rotated.get_json()["client_secret"], partner_a.id)
    assert request_token(client, creds).status_code == 401
    assert request_token(client, new_creds).status_code == 200

    revoked = platform.post(f"{base}/{issued['id']}/revoke")
    assert revoked.get_json()["status"] == "revoked"
    assert request_token(client, new_creds).status_code == 401
    assert user.get("/api/v1/partner").status_code == 401
    actions = {
        a.action
        for a in session.scalars(select(AuditLog).where(AuditLog.target_id == issued["id"]))
    }
    assert actions == {"client.created", "client.secret_rotated", "client.revoked"}


def test_platform_scope_cannot_be_given_to_partner_clients(platform, partner_a):
    response = platform.post(
        f"/api/v1/platform/partners/{partner_a.id}/clients",
        json={"name": "sneaky", "scopes": ["platform"]},
    )
    assert response.status_code == 422
    assert "scopes" in response.get_json()["errors"]


def test_client_of_another_partner_is_404(platform, partner_a, partner_b, session):
    from tests.factories import make_client

    creds_b = make_client(session, partner_b)
    response = platform.post(
        f"/api/v1/platform/partners/{partner_a.id}/clients/{creds_b.client_id}/revoke"
    )
    assert response.status_code == 404
