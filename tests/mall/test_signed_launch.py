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
