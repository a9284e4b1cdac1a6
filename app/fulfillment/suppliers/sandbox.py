"""The sandbox supplier: answers in-process, without a network or any state of its own, so
sandbox partners' direct recharges and links are fulfilled the same way in every deployment
and never reach a real supplier.

What it does is decided by the recharge account (the magic values of docs/sandbox.md):
an account ending in `4000` fails, one ending in `4001` stays processing for a minute after
its order and then succeeds (it is polled, as a slow real supplier is), any other succeeds at
once. A SKU starting with `LINK` succeeds with a claim link valid for 30 days.
"""

from __future__ import annotations

from datetime import timedelta

from app.core.db import utcnow
from app.core.ids import created_at_of
from app.fulfillment.suppliers.base import (
    ACCEPTED,
    FAILED,
    PROCESSING,
    SUCCESS,
    InvalidSignature,
    StatusReport,
    SubmitResult,
)

FAILS = "4000"
SLOW = "4001"
SLOW_FOR = timedelta(minutes=1)
CLAIM_BASE = "https://claim.sandbox.quanyi.example/c"
CLAIM_VALID_FOR = timedelta(days=30)


class SandboxAdapter:
    def submit(
        self, reference: str, sku: str, account: str | None, callback_url: str
    ) -> SubmitResult:
        order_no = f"SBX-{reference}"
        if account and account.endswith(SLOW):
            return SubmitResult(ACCEPTED, order_no)  # no answer yet: the engine polls
        if account and account.endswith(FAILS):
            report = StatusReport(
                reference, FAILED, order_no, message=f"sandbox: accounts ending {FAILS} fail"
            )
        else:
            report = self._success(reference, sku)
        return SubmitResult(ACCEPTED, order_no, report=report)

    def query(self, reference: str) -> StatusReport:
        """Only a slow account's recharge is ever left to a poll: it succeeds once a minute
        has passed since its order."""
        if utcnow() - created_at_of(reference) < SLOW_FOR:
            return StatusReport(reference, PROCESSING, f"SBX-{reference}")
        return self._success(reference, "")

    def parse_callback(self, body: bytes) -> StatusReport:
        raise InvalidSignature("the sandbox supplier never calls back")

    def balance(self) -> int | None:
        return None

    @staticmethod
    def _success(reference: str, sku: str) -> StatusReport:
        if not sku.startswith("LINK"):
            return StatusReport(reference, SUCCESS, f"SBX-{reference}")
        return StatusReport(
            reference,
            SUCCESS,
            f"SBX-{reference}",
            claim_url=f"{CLAIM_BASE}/{reference}",
            claim_expires_at=utcnow() + CLAIM_VALID_FOR,
        )
