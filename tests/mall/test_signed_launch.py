"""Launches the partner signs itself: a JWT with a key it registered enters the mall once;
a wrong issuer, audience, lifetime, key or a replay is refused; a revoked key stops working."""

from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.mall.conftest import launch  # noqa: F401 - the mall's fixtures


@pytest.fixture
def signer(api_a):
    key = RSAKey.generate_key(2048)
    answer = api_a.post(
        "/api/v1/mall/launch-keys",
        json={"kid": "app-2026", "public_key": key.as_pem(private=False).decode()},
    )
    assert answer.status_code == 201, answer.get_json()
    return key


def _token(
    key, partner_id: str, kid: str = "app-2026", alg: str = "RS256", exp_in: int = 120, **claims
) -> str:
    now = int(time.time())  # when the token is made, as a partner's app makes it
    body = {
        "iss": partner_id,
        "aud": "quanyi:mall",
        "sub": "m-1",
        "iat": now,
        "exp": now + exp_in,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode({"alg": alg, "kid": kid}, body, key)


def test_a_signed_launch_enters_once(browser_of, shop, partner_a, signer):
    token = _token(signer, partner_a.id)
    entered = browser_of().get(f"/m/partner-a/launch?token={token}")
    assert entered.status_code == 302 and "quanyi_mall=" in entered.headers["Set-Cookie"]
    assert browser_of().get(f"/m/partner-a/launch?token={token}").status_code == 401  # replay


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "prt_someone_else"},
        {"aud": "another-service"},
        {"exp_in": -10},
        {"exp_in": 3600},  # lives longer than five minutes
        {"sub": "nobody"},
    ],
)
def test_a_signed_launch_with_wrong_claims_is_refused(browser_of, shop, partner_a, signer, claims):
    token = _token(signer, partner_a.id, **claims)
    assert browser_of().get(f"/m/partner-a/launch?token={token}").status_code == 401


def test_other_keys_and_revoked_keys_are_refused(browser_of, api_a, shop, partner_a, signer):
    stranger = RSAKey.generate_key(2048)
    forged = _token(stranger, partner_a.id)
    assert browser_of().get(f"/m/partner-a/launch?token={forged}").status_code == 401
    assert api_a.post("/api/v1/mall/launch-keys/app-2026/revoke").status_code == 200
    after = _token(signer, partner_a.id)
    assert browser_of().get(f"/m/partner-a/launch?token={after}").status_code == 401
    keys = api_a.get("/api/v1/mall/launch-keys").get_json()["data"]
    assert keys[0]["kid"] == "app-2026" and keys[0]["revoked_at"] is not None


@pytest.mark.filterwarnings("ignore:Key size should be")  # the weak key, made to be refused
def test_an_ec_key_works_and_private_or_weak_keys_are_refused(browser_of, api_a, shop, partner_a):
    ec = ECKey.generate_key("P-256")
    registered = api_a.post(
        "/api/v1/mall/launch-keys",
        json={"kid": "ec-1", "public_key": ec.as_pem(private=False).decode()},
    )
    assert registered.status_code == 201
    token = _token(ec, partner_a.id, kid="ec-1", alg="ES256")
    assert browser_of().get(f"/m/partner-a/launch?token={token}").status_code == 302
    private = RSAKey.generate_key(2048).as_pem(private=True).decode()
    weak = RSAKey.generate_key(1024).as_pem(private=False).decode()
    for pem in (private, weak, "not a key"):
        answer = api_a.post("/api/v1/mall/launch-keys", json={"kid": "x", "public_key": pem})
        assert answer.status_code == 422, answer.get_json()
    again = api_a.post(
        "/api/v1/mall/launch-keys",
        json={"kid": "ec-1", "public_key": ec.as_pem(private=False).decode()},
    )
    assert again.status_code == 409


@pytest.fixture
def published(app):
    """A partner's JWKS over real HTTP on loopback: `keys` is what it publishes right now."""
    import threading

    from flask import Flask, jsonify
    from werkzeug.serving import make_server

    keys: list = []
    site = Flask("jwks")
    site.add_url_rule("/jwks.json", "jwks", lambda: jsonify({"keys": keys}))
    server = make_server("127.0.0.1", 0, site, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from app.core.queue import redis_connection

    for name in redis_connection(app).scan_iter("*quanyi:mall:jwks:*"):
        redis_connection(app).delete(name)
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", keys
    server.shutdown()


def _jwk(key, kid: str) -> dict:
    return {**key.as_dict(private=False), "kid": kid}


def test_keys_published_at_a_jwks_url_let_a_partner_rotate_without_calling_us(
    browser_of, api_a, shop, partner_a, published, monkeypatch
):
    url, keys = published
    old = RSAKey.generate_key(2048)
    refused = api_a.put("/api/v1/mall/launch-jwks", json={"url": url})
    assert refused.status_code == 422  # it publishes nothing yet
    keys.append(_jwk(old, "k-2026"))
    answer = api_a.put("/api/v1/mall/launch-jwks", json={"url": url})
    assert answer.status_code == 200 and answer.get_json()["kids"] == ["k-2026"]
    enter = browser_of().get(f"/m/partner-a/launch?token={_token(old, partner_a.id, 'k-2026')}")
    assert enter.status_code == 302
    # the partner rotates: a new key, the old one gone; no call to our API
    import app.mall.jwks as jwks

    monkeypatch.setattr(jwks, "JWKS_REFRESH_AFTER_SECONDS", 0)
    new = ECKey.generate_key("P-256")
    keys[:] = [_jwk(new, "k-2027")]
    token = _token(new, partner_a.id, "k-2027", alg="ES256")
    assert browser_of().get(f"/m/partner-a/launch?token={token}").status_code == 302
    stale = _token(old, partner_a.id, "k-2026")
    assert browser_of().get(f"/m/partner-a/launch?token={stale}").status_code == 401
    # a private or weak key published is never used
    keys[:] = [{**RSAKey.generate_key(2048).as_dict(private=True), "kid": "leaked"}]
    assert api_a.put("/api/v1/mall/launch-jwks", json={"url": url}).status_code == 422


def test_a_jwks_url_must_be_public_https_outside_tests(api_a, app, published):
    url, _keys = published
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = False
    try:
        answer = api_a.put("/api/v1/mall/launch-jwks", json={"url": url})
    finally:
        app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True
    assert answer.status_code == 422 and answer.get_json()["code"] == "webhook_url_not_allowed"
    assert api_a.put("/api/v1/mall/launch-jwks", json={"url": None}).status_code == 200
