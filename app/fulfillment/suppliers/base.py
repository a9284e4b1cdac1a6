"""What the fulfillment engine needs from a supplier, whatever its wire protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# Outcomes the engine acts on.
ACCEPTED = "accepted"  # the supplier took the order; await callback or poll
REJECTED = "rejected"  # definitive refusal: try the next offer
UNREACHABLE = "unreachable"  # timeout, 5xx, garbage: unknown; poll, then maybe resubmit

PROCESSING, SUCCESS, FAILED, UNKNOWN = "processing", "success", "failed", "unknown"


@dataclass(frozen=True)
class StatusReport:
    """A supplier's word on one of our references (from a query or a callback)."""

    reference: str
    status: str
    supplier_order_no: str | None = None
    message: str | None = None
    # a link product's claim URL and its expiry (secret: sealed as soon as it is received)
    claim_url: str | None = field(default=None, repr=False)
    claim_expires_at: datetime | None = None


@dataclass(frozen=True)
class SubmitResult:
    outcome: str
    supplier_order_no: str | None = None
    message: str | None = None
    # a supplier that answers the submission with the final result at once (no callback)
    report: StatusReport | None = None


class InvalidSignature(Exception):
    """A callback whose signature does not verify: it changes nothing."""


class SupplierAdapter(Protocol):
    def submit(
        self, reference: str, sku: str, account: str | None, callback_url: str
    ) -> SubmitResult:
        """Ask for one recharge. `reference` (our delivery id) is idempotent at the supplier."""

    def query(self, reference: str) -> StatusReport:
        """Where the recharge for `reference` stands (UNKNOWN when the supplier never saw it)."""

    def parse_callback(self, body: bytes) -> StatusReport:
        """Verify and read a callback; raises InvalidSignature."""

    def balance(self) -> int | None:
        """Our prepaid balance with the supplier, when its protocol reports it."""
