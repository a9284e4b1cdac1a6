"""HMAC-SHA256 signatures over a message's sorted `key=value` pairs joined by `&`, in a `sign`
field: the common shape of recharge platforms and of partner points services."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any


def sign(params: dict[str, Any], secret: str) -> str:
    canonical = "&".join(
        f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] is not None
    )
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def signed(params: dict[str, Any], secret: str) -> dict[str, Any]:
    return {**params, "sign": sign(params, secret)}


def verify(params: dict[str, Any], secret: str) -> bool:
    given = str(params.get("sign", ""))
    return bool(given) and hmac.compare_digest(given, sign(params, secret))
