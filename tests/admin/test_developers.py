"""Developers page: API clients (secret shown once; rotation with grace; revocation), sandbox
clients on the partner's twin, webhook endpoints with a test ping."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.auth.models import ApiClient
from app.partners.models import Partner
from app.webhooks.models import Event, WebhookDelivery
from tests.admin.conftest import make_staff, post_form, sign_in
from tests.factories import Credentials, make_client, request_token


def _issued(html: str) -> tuple[str, str]:
    client_id = re.search(r'data-testid="client-id">([^<]+)<', html)
    secret = re.search(r'data-testid="secret">([^<]+)<', html)
    assert client_id and secret, html
    return client_id.group(1), secret.group(1)


def test_an_owner_creates_rotates_and_revokes_an_api_client(session, client, browser_of, partner_a):
    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    made = post_form(portal, "/admin/developers", {"name": "erp"}, "/admin/developers/clients")
    client_id, secret = _issued(made.get_data(as_text=True))
    assert made.headers["Cache-Control"] == "no-store"
    creds = Credentials(client_id, secret, partner_a.id)
    assert request_token(client, creds).status_code == 200
    assert secret not in portal.get("/admin/developers").get_data(as_text=True)  # shown once

    rotated = post_form(
        portal, "/admin/developers", {}, f"/admin/developers/clients/{client_id}/rotate"
    )
    _, new_secret = _issued(rotated.get_data(as_text=True))
    assert (
        request_token(client, Credentials(client_id, new_secret, partner_a.id)).status_code == 200
    )
    assert request_token(client, creds).status_code == 200  # the old one, during its grace

    post_form(portal, "/admin/developers", {}, f"/admin/developers/clients/{client_id}/revoke")
    assert (
        request_token(client, Credentials(client_id, new_secret, partner_a.id)).status_code == 401
    )


def test_a_sandbox_client_acts_for_the_twin(session, client, browser_of, partner_a):
    owner = make_staff(session, partner_a.id, "admin")
    portal = browser_of()
    sign_in(portal, owner)
    made = post_form(
        portal, "/admin/developers", {"name": "test", "sandbox": "y"}, "/admin/developers/clients"
    )
    client_id, secret = _issued(made.get_data(as_text=True))
    twin = session.scalars(select(Partner).where(Partner.sandbox_of_id == partner_a.id)).one()
    assert session.get_one(ApiClient, client_id).partner_id == twin.id
    token = request_token(client, Credentials(client_id, secret, twin.id)).get_json()[
        "access_token"
    ]
    profile = client.get("/api/v1/partner", headers={"Authorization": f"Bearer {token}"})
    assert profile.get_json()["sandbox_of_id"] == partner_a.id
    page = portal.get("/admin/developers").get_data(as_text=True)
    assert client_id in page.split('data-testid="sandbox-clients"')[1]


def test_clients_of_another_partner_are_out_of_reach(session, browser_of, partner_a, partner_b):
    foreign = make_client(session, partner_b)
    owner = make_staff(session, partner_a.id, "owner")
    viewer = make_staff(session, partner_a.id, "viewer")
    portal = browser_of()
    sign_in(portal, owner)
    path = f"/admin/developers/clients/{foreign.client_id}/revoke"
    assert post_form(portal, "/admin/developers", {}, path).status_code == 404
    session.expire_all()
    assert session.get_one(ApiClient, foreign.client_id).status == "active"
    looker = browser_of()
    sign_in(looker, viewer)
    assert looker.get("/admin/developers").status_code == 403


def test_a_webhook_endpoint_is_added_and_pinged(app, session, browser_of, partner_a, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_TARGETS", True)
    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    made = post_form(
        portal,
        "/admin/developers",
        {"url": "http://127.0.0.1:9/quanyi"},
        "/admin/developers/webhooks",
    )
    assert made.status_code == 200 and 'data-testid="secret"' in made.get_data(as_text=True)
    endpoint_id = re.search(r"<code>(whe_[0-9a-z]+)</code>", made.get_data(as_text=True)).group(1)
    post_form(portal, "/admin/developers", {}, f"/admin/developers/webhooks/{endpoint_id}/test")
    ping = session.scalars(select(Event).where(Event.type == "ping")).one()
    log = portal.get(f"/admin/developers/webhooks/{endpoint_id}").get_data(as_text=True)
    assert ping.id in log
    again = post_form(
        portal,
        f"/admin/developers/webhooks/{endpoint_id}",
        {},
        f"/admin/developers/events/{ping.id}/replay",
    )
    assert again.status_code == 302
    session.expire_all()
    assert (
        session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.event_id == ping.id)
        )
        == 2
    )  # the test send and its replay


def test_rotating_a_webhook_secret_shows_the_new_one_once_and_keeps_the_old_a_day(
    app, session, browser_of, partner_a, monkeypatch
):
    from app.core.vault import current_vault
    from app.webhooks.endpoints import create_endpoint
    from app.webhooks.models import WebhookEndpoint
    from tests.factories import TEST_ACTOR

    first = create_endpoint(
        session, TEST_ACTOR, current_vault(), partner_a.id, "http://127.0.0.1:9/h", [],
        allow_private=True,
    )  # fmt: skip
    session.commit()
    operations = make_staff(session, partner_a.id, "operations")
    portal = browser_of()
    sign_in(portal, operations)
    rotate = f"/admin/developers/webhooks/{first.endpoint.id}/rotate"
    shown = post_form(portal, "/admin/developers", {}, rotate).get_data(as_text=True)
    secret = re.search(r'data-testid="secret">([^<]+)<', shown).group(1)
    assert secret != first.secret and secret.startswith("whsec_")
    assert secret not in portal.get("/admin/developers").get_data(as_text=True)
    session.expire_all()
    endpoint = session.get_one(WebhookEndpoint, first.endpoint.id)
    assert endpoint.previous_secret_expires_at is not None
    viewer = browser_of()
    sign_in(viewer, make_staff(session, partner_a.id, "viewer"))
    assert post_form(viewer, "/admin/", {}, rotate).status_code == 403


def test_the_request_log_shows_the_partners_own_requests_without_bodies(
    app, session, client, browser_of, partner_a, partner_b
):
    from app.auth import request_log
    from tests.factories import ApiUser

    api_a = ApiUser.login(client, make_client(session, partner_a))
    api_b = ApiUser.login(client, make_client(session, partner_b))
    assert api_a.get("/api/v1/partner?marker=SECRET-QUERY").status_code == 200
    assert api_a.get("/api/v1/orders/ord_00000000000000000000000000").status_code == 404
    refused = api_a.post(
        "/api/v1/orders",
        json={"member": "SECRET-BODY", "items": []},
        headers={"Idempotency-Key": "k"},
    )
    assert refused.status_code == 422
    assert api_b.get("/api/v1/members/only-b").status_code == 404

    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    html = portal.get("/admin/developers/requests").get_data(as_text=True)
    assert "GET /api/v1/partner" in html and "POST /api/v1/orders" in html
    assert "not_found" in html and "validation_error" in html
    assert "only-b" not in html  # another partner's requests
    assert "SECRET-QUERY" not in html and "SECRET-BODY" not in html
    errors = portal.get("/admin/developers/requests?errors=1").get_data(as_text=True)
    assert "POST /api/v1/orders" in errors
    assert "GET /api/v1/partner" not in errors

    first, cursor = request_log.recent(app, partner_a.id, 2)
    rest, end = request_log.recent(app, partner_a.id, 2, cursor)
    assert [r.status for r in first + rest] == [422, 404, 200] and end is None
    assert portal.get("/admin/developers/requests?errors=1&client=cli_x").status_code == 200
    support = browser_of()
    sign_in(support, make_staff(session, partner_a.id, "support"))
    assert support.get("/admin/developers/requests").status_code == 403
