"""Launch keys a partner publishes at a JWKS URL instead of uploading them: fetched from the
partner (through the same outbound-URL policy as webhooks: https, public addresses), kept in
Redis JWKS_KEPT, and fetched again — at most once per JWKS_REFRESH_AFTER — when a launch names
a kid the kept set lacks, so a partner rotating its key needs no call to us."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import redis
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

from app.core import outbound
from app.core.errors import DomainError
from app.webhooks.targets import check_target

JWKS_KEPT_SECONDS = 300
JWKS_REFRESH_AFTER_SECONDS = 60
JWKS_MAX_BYTES = 64_000
FETCH_TIMEOUT_SECONDS = 3.0


class JwksUnavailable(DomainError):
    code = "jwks_unavailable"


def acceptable(jwk: dict[str, Any]) -> RSAKey | ECKey | None:
    """The key, if it is a public RSA key of 2048 bits or more, or an EC P-256 key; else None."""
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    if key.is_private:
        return None
    if isinstance(key, RSAKey) and key.raw_value.key_size >= 2048:
        return key
    if isinstance(key, ECKey) and key.as_dict(private=False).get("crv") == "P-256":
        return key
    return None


def fetch(url: str, allow_private: bool) -> list[dict[str, Any]]:
    """The acceptable keys (with a kid) the URL publishes; raises JwksUnavailable."""
    check_target(url, allow_private)
    try:
        response = outbound.client().get(url, timeout=FETCH_TIMEOUT_SECONDS)
        if response.status_code != 200 or len(response.content) > JWKS_MAX_BYTES:
            raise JwksUnavailable(f"{url} answered {response.status_code}, not a key set.")
        published = response.json().get("keys", [])
    except (httpx.HTTPError, ValueError, AttributeError):
        raise JwksUnavailable(f"{url} did not answer with a key set.") from None
    keys = []
    for jwk in published if isinstance(published, list) else []:
        key = acceptable(jwk) if isinstance(jwk, dict) and jwk.get("kid") else None
        if key is not None:
            keys.append({**key.as_dict(private=False), "kid": str(jwk["kid"])})
    return keys


@dataclass(frozen=True)
class JwksSource:
    """A partner's published keys, as kept in Redis."""

    connection: redis.Redis
    allow_private: bool
    prefix: str = ""

    def keys(self, partner_id: str, url: str, kid: str | None) -> list[dict[str, Any]]:
        """The kept keys; fetched again when none are kept, or when `kid` is not among them and
        the last fetch is older than JWKS_REFRESH_AFTER_SECONDS. A partner whose JWKS cannot be
        read has no published keys (its uploaded ones still work)."""
        name = f"{self.prefix}quanyi:mall:jwks:{partner_id}"
        try:
            kept = self.connection.get(name)
        except redis.RedisError:
            kept = None
        entry = json.loads(kept) if kept else None
        if entry is not None and entry["url"] == url:
            known = {k["kid"] for k in entry["keys"]}
            fresh = time.time() - entry["at"] < JWKS_REFRESH_AFTER_SECONDS
            if kid in known or fresh:
                return list(entry["keys"])
        try:
            keys = fetch(url, self.allow_private)
        except DomainError:
            keys = []
        entry = {"url": url, "at": time.time(), "keys": keys}
        with contextlib.suppress(redis.RedisError):
            self.connection.set(name, json.dumps(entry), ex=JWKS_KEPT_SECONDS)
        return keys
