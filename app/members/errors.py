from __future__ import annotations

from app.core.errors import DomainError


class InsufficientPoints(DomainError):
    code = "insufficient_points"


class PointsBalanceLimit(DomainError):
    code = "points_balance_limit"


class MemberBlocked(DomainError):
    code = "member_blocked"


class MemberNotFound(DomainError):
    code = "member_not_found"
