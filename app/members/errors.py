from __future__ import annotations

from app.core.errors import DomainError


class InsufficientPoints(DomainError):
    status, code, title = 422, "insufficient_points", "Insufficient points"


class PointsBalanceLimit(DomainError):
    status, code, title = 422, "points_balance_limit", "Points balance limit"


class MemberBlocked(DomainError):
    status, code, title = 403, "member_blocked", "Member blocked"


class MemberNotFound(DomainError):
    status, code, title = 404, "member_not_found", "Member not found"
