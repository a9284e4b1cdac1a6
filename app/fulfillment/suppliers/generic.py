"""The common shape of recharge platforms: JSON over HTTP, every message signed
(app/core/signing.py)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from app.core import outbound
from app.core.signing import signed, verify
from app.fulfillment.suppliers.base import (
    ACCEPTED,
    REJECTED,
    UNKNOWN,
    UNREACHABLE,
    InvalidSignature,
    StatusReport,
    SubmitResult,
)


class GenericJsonAdapter:
    def __init__(
        self, base_url: str, merchant: str, secret: str, timeout_seconds: float = 5.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.merchant = merchant
        self.secret = secret
        self.timeout = timeout_seconds

    def _post(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        body = signed(
            {**params, "merchant": self.merchant, "timestamp": int(time.time())}, self.secret
        )
        try:
            response = outbound.client().post(self.base_url + path, json=body, timeout=self.timeout)
        except httpx.HTTPError:
            return None
        if response.status_code >= 500:
            return None
        try:
            data = response.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) and verify(data, self.secret) else None

    def submit(
        self, reference: str, sku: str, account: str | None, callback_url: str
    ) -> SubmitResult:
        data = self._post(
            "/api/recharge",
            {
                "out_trade_no": reference,
                "sku": sku,
                "account": account,
                "callback_url": callback_url,
            },
        )
        if data is None:
            return SubmitResult(UNREACHABLE, message="no valid answer")
        if data.get("code") == 0:
            return SubmitResult(ACCEPTED, str(data.get("order_no")))
        return SubmitResult(REJECTED, message=str(data.get("message", "refused")))

    def query(self, reference: str) -> StatusReport:
        data = self._post("/api/query", {"out_trade_no": reference})
        if data is None:
            return StatusReport(reference, UNREACHABLE, message="no valid answer")
        return _report(reference, data)

    def balance(self) -> int | None:
        """Our prepaid balance at the supplier, in minor units (None: not reported)."""
        data = self._post("/api/balance", {})
        if data is None or data.get("code") != 0 or not isinstance(data.get("balance"), int):
            return None
        return int(data["balance"])

    def parse_callback(self, body: bytes) -> StatusReport:
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidSignature("not JSON") from None
        if (
            not isinstance(data, dict)
            or not verify(data, self.secret)
            or data.get("merchant") != self.merchant
        ):
            raise InvalidSignature("signature does not verify")
        return _report(str(data.get("out_trade_no")), data)


def _report(reference: str, data: dict[str, Any]) -> StatusReport:
    """A query answer or callback body; `claim_url`/`claim_expires_at` (ISO 8601) come with a
    link product's success."""
    expires = data.get("claim_expires_at")
    try:
        claim_expires_at = datetime.fromisoformat(expires) if isinstance(expires, str) else None
    except ValueError:
        claim_expires_at = None
    if claim_expires_at is not None and claim_expires_at.tzinfo is None:
        claim_expires_at = claim_expires_at.replace(tzinfo=UTC)
    claim_url = data.get("claim_url")
    return StatusReport(
        reference,
        str(data.get("status", UNKNOWN)),
        data.get("order_no"),
        claim_url=claim_url if isinstance(claim_url, str) and claim_url else None,
        claim_expires_at=claim_expires_at,
    )
