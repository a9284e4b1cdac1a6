"""OAuth2 client credentials: token issue, scopes, revocation, introspection, secret handling."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from app.auth import service as auth_service
from app.auth.models import AccessToken, ApiClient
from app.core.db import Base, utcnow
from tests.factories import (
    TEST_ACTOR,
    ApiUser,
    Credentials,
    basic_auth,
    make_client,
    request_token,
)


def test_token_by_http_basic_has_bearer_type_and_one_hour_lifetime(client, session, partner_a):
    response = request_token(client, make_client(session, partner_a))
    body = response.get_json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "orders:write" in body["scope"].split()
    assert response.headers["Cache-Control"] == "no-store"


def test_token_by_form_credentials(client, session, partner_a):
    creds = make_client(session, partner_a)
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.secret,
        },
    )
    assert response.status_code == 200
    assert response.get_json()["access_token"].startswith("qyat_")


def test_wrong_secret_is_401_problem_with_www_authenticate(client, session, partner_a):
    creds = make_client(session, partner_a)
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(creds.client_id, creds.secret + "x"),
    )
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_client"
    assert "WWW-Authenticate" in response.headers


def test_unsupported_grant_type_is_a_problem(client, session, partner_a):
    creds = make_client(session, partner_a)
    response = client.post(
        "/oauth/token",
        data={"grant_type": "password"},
        headers=basic_auth(creds.client_id, creds.secret),
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "unsupported_grant_type"


def test_partner_client_cannot_obtain_platform_scope(client, session, partner_a):
    response = request_token(client, make_client(session, partner_a), scope="platform")
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_scope"


def test_token_can_be_narrowed_to_requested_scopes(client, session, partner_a):
    response = request_token(client, make_client(session, partner_a), scope="catalog:read")
    assert response.get_json()["scope"] == "catalog:read"


def test_missing_bearer_token_is_401(client, partner_a):
    response = client.get("/api/v1/partner")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_unknown_bearer_token_is_401(client):
    response = client.get("/api/v1/partner", headers={"Authorization": "Bearer qyat_nope"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"
    assert "WWW-Authenticate" in response.headers


def test_expired_token_is_401(client, session, api_a):
    row = session.scalars(select(AccessToken)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    response = api_a.get("/api/v1/partner")
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"


def test_missing_scope_is_403_insufficient_scope(client, session, partner_a):
    narrow = ApiUser.login(client, make_client(session, partner_a), scope="catalog:read")
    response = narrow.get("/api/v1/platform/partners")
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "insufficient_scope"


def test_revoked_token_stops_working(client, api_a):
    response = client.post("/oauth/revoke", data={"token": api_a.token}, headers=api_a.basic_auth())
    assert response.status_code == 200
    assert api_a.get("/api/v1/partner").status_code == 401


def test_another_client_cannot_revoke_my_token(client, session, api_a, partner_a):
    other = make_client(session, partner_a)
    client.post(
        "/oauth/revoke",
        data={"token": api_a.token},
        headers=basic_auth(other.client_id, other.secret),
    )
    assert api_a.get("/api/v1/partner").status_code == 200


def test_introspection_reports_active_then_inactive(client, api_a):
    auth = api_a.basic_auth()
    active = client.post("/oauth/introspect", data={"token": api_a.token}, headers=auth)
    assert active.get_json()["active"] is True
    assert active.get_json()["partner_id"] == api_a.partner_id
    client.post("/oauth/revoke", data={"token": api_a.token}, headers=auth)
    inactive = client.post("/oauth/introspect", data={"token": api_a.token}, headers=auth)
    assert inactive.get_json() == {"active": False}


def _rotate(session, creds, grace=timedelta(0)) -> Credentials:
    issued = auth_service.rotate_client_secret(session, TEST_ACTOR, creds.client(session), grace)
    session.commit()
    return Credentials.of(issued)


def test_rotation_without_grace_invalidates_old_secret(client, session, partner_a):
    creds = make_client(session, partner_a)
    rotated = _rotate(session, creds)
    assert request_token(client, creds).status_code == 401
    assert request_token(client, rotated).status_code == 200


def test_rotation_with_grace_keeps_old_secret_for_a_while(client, session, partner_a):
    creds = make_client(session, partner_a)
    rotated = _rotate(session, creds, timedelta(hours=1))
    assert request_token(client, creds).status_code == 200
    assert request_token(client, rotated).status_code == 200


def test_an_emergency_rotation_kills_the_tokens_minted_before_it(client, session, api_a):
    assert api_a.get("/api/v1/partner").status_code == 200
    rotated = _rotate(session, api_a.creds)
    assert api_a.get("/api/v1/partner").status_code == 401
    fresh = ApiUser.login(client, rotated)
    assert fresh.get("/api/v1/partner").status_code == 200


def test_tokens_minted_before_a_rotation_end_with_its_grace(client, session, api_a):
    _rotate(session, api_a.creds, timedelta(minutes=5))
    assert api_a.get("/api/v1/partner").status_code == 200
    token = session.scalars(
        select(AccessToken).where(AccessToken.client_id == api_a.creds.client_id)
    ).first()
    assert token.expires_at <= utcnow() + timedelta(minutes=5)


def test_the_credentials_command_rotates_with_a_grace(app, session, partner_a):
    runner = app.test_cli_runner()
    args = ["partners", "credentials", partner_a.slug, "--shell"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=[*args, "--grace", "60"])
    assert again.exit_code == 0, again.output
    client = session.scalars(select(ApiClient).where(ApiClient.partner_id == partner_a.id)).one()
    session.refresh(client)
    assert client.previous_secret_hash is not None
    assert runner.invoke(args=[*args, "--grace", "-1"]).exit_code != 0


def test_revoked_client_gets_no_token_and_its_tokens_die(client, session, api_a):
    auth_service.revoke_client(session, TEST_ACTOR, api_a.creds.client(session))
    session.commit()
    assert api_a.get("/api/v1/partner").status_code == 401
    assert request_token(client, api_a.creds).status_code == 401


def test_no_plaintext_secret_or_token_in_any_table(client, session, api_a):
    secret, token = api_a.creds.secret, api_a.token
    dump = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(text(f"SELECT * FROM {table.name}")):
            dump.append(" ".join(str(v) for v in row))
    everything = "\n".join(dump)
    assert api_a.creds.client_id in everything  # the dump really covers the rows
    assert secret not in everything
    assert secret.removeprefix("qysk_") not in everything
    assert token not in everything
    assert token.removeprefix("qyat_") not in everything


def test_an_unknown_client_id_costs_the_same_secret_check_as_a_wrong_secret(
    client, session, partner_a, monkeypatch
):
    checks: list[str] = []
    real = auth_service.matches_hash

    def counting(hashed, secret):  # type: ignore[no-untyped-def]
        checks.append(secret)
        return real(hashed, secret)

    monkeypatch.setattr(auth_service, "matches_hash", counting)
    creds = make_client(session, partner_a)
    wrong = request_token(client, Credentials(creds.client_id, "wrong", creds.partner_id))
    known = len(checks)
    unknown = request_token(client, Credentials("cli_unknown", "wrong", None))
    assert wrong.status_code == unknown.status_code == 401
    assert known >= 1 and len(checks) - known == known


def test_repeated_failures_lock_the_address_out_even_with_the_right_secret(
    client, session, partner_a
):
    creds = make_client(session, partner_a)
    bad = Credentials(creds.client_id, "wrong", creds.partner_id)
    assert {request_token(client, bad).status_code for _ in range(10)} == {401}
    locked = request_token(client, creds)
    assert locked.status_code == 429 and locked.get_json()["code"] == "too_many_failures"
    assert int(locked.headers["Retry-After"]) > 0


def test_a_client_id_is_locked_out_whatever_address_guesses_it(client, session, partner_a):
    creds = make_client(session, partner_a)
    bad = Credentials(creds.client_id, "wrong", creds.partner_id)
    for i in range(20):  # a botnet: two guesses from each of ten addresses
        answer = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth(bad.client_id, bad.secret),
            environ_base={"REMOTE_ADDR": f"203.0.113.{i // 2}"},
        )
        assert answer.status_code == 401
    fresh = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(creds.client_id, creds.secret),
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert fresh.status_code == 429


def test_token_parameters_in_the_query_string_are_refused(client, session, partner_a):
    creds = make_client(session, partner_a)
    answer = client.post(
        "/oauth/token?grant_type=client_credentials",
        headers=basic_auth(creds.client_id, creds.secret),
    )
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_request"
