"""The risk seam: every order is assessed before anything is reserved or written.

Rules (velocity, device, new-member checks) plug in as a `RiskCheck`; the default allows
everything. A `deny` refuses the order (422 `order_denied`, nothing written); a `review`
lets it through and records the decision and its reasons on the order's audit row, for the
review queue to find.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from app.core.errors import DomainError
from app.orders.pricing import Quote


class OrderDenied(DomainError):
    code = "order_denied"


@dataclass(frozen=True)
class MemberContext:
    """What the partner tells us about the member at the moment of the order (all optional)."""

    member_ip: str | None = None
    device_id: str | None = None
    member_since: date | None = None


@dataclass(frozen=True)
class OrderDraft:
    """An order as checkout knows it before reserving anything."""

    partner_id: str
    member_id: str
    member_external_id: str
    quote: Quote
    context: MemberContext


@dataclass(frozen=True)
class Decision:
    outcome: Literal["allow", "review", "deny"]
    reasons: tuple[str, ...] = ()


ALLOW = Decision("allow")


class RiskCheck(Protocol):
    def assess(self, draft: OrderDraft) -> Decision: ...


class AllowAll:
    """The default: no rule."""

    def assess(self, draft: OrderDraft) -> Decision:
        return ALLOW
