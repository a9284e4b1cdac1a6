"""Quotas: limits on a partner and its members, checked atomically when an order is placed.

Each limit is a counter row incremented with INSERT … ON CONFLICT DO UPDATE … RETURNING inside
the order's transaction: the row lock serializes racing orders on that counter, so no race can
exceed a cap, and a refused or rolled-back order leaves the counter as it was. Periods are
days and months in the partner's timezone. Counters exist only for limits that are set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_changes
from app.core.db import dialect_insert
from app.core.errors import DomainError
from app.partners.models import Partner, PartnerQuota, UsageCounter

QUOTA_FIELDS = (
    "monthly_spend_cap_minor",
    "listing_daily_units",
    "member_listing_daily_units",
    "member_listing_monthly_units",
    "member_daily_orders",
)


class QuotaExceeded(DomainError):
    code = "quota_exceeded"


@dataclass(frozen=True)
class Limits:
    """A partner's caps (None: not set) and the timezone its days and months are counted in:
    what an order checks."""

    partner_id: str
    timezone: str
    monthly_spend_cap_minor: int | None = None
    listing_daily_units: int | None = None
    member_listing_daily_units: int | None = None
    member_listing_monthly_units: int | None = None
    member_daily_orders: int | None = None


def limits_for(session: Session, partner_id: str) -> Limits:
    """The partner's limits, read as values (every order reads them; the partner entity, with
    its branding and eager quota, costs several times more to load)."""
    timezone, *caps = session.execute(
        select(Partner.timezone, *(getattr(PartnerQuota, f) for f in QUOTA_FIELDS))
        .outerjoin(PartnerQuota, PartnerQuota.partner_id == Partner.id)
        .where(Partner.id == partner_id)
    ).one()
    return Limits(partner_id, timezone, **dict(zip(QUOTA_FIELDS, caps, strict=True)))


def set_quota(
    session: Session, actor: Actor, partner_id: str, data: dict[str, Any]
) -> PartnerQuota:
    partner = session.get_one(Partner, partner_id)
    quota = partner.quota
    if quota is None:
        quota = partner.quota = PartnerQuota(partner_id=partner_id)
    before = {f: getattr(quota, f) for f in QUOTA_FIELDS}
    for key in QUOTA_FIELDS:
        if key in data:
            setattr(quota, key, data[key])
    after = {f: getattr(quota, f) for f in QUOTA_FIELDS}
    record_changes(
        session,
        actor,
        "quota.updated",
        "partner_quota",
        partner_id,
        before,
        after,
        partner_id=partner_id,
    )
    session.flush()
    return quota


def periods(timezone: str, now: datetime) -> tuple[str, str]:
    local = now.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d"), local.strftime("%Y-%m")


def _bump(session: Session, partner_id: str, key: str, amount: int) -> int:
    stmt = dialect_insert(session, UsageCounter).values(
        partner_id=partner_id, key=key, value=amount
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["partner_id", "key"], set_={"value": UsageCounter.value + amount}
    ).returning(UsageCounter.value)
    return int(session.execute(stmt).scalar_one())


def consume(
    session: Session,
    limits: Limits,
    member_id: str,
    units_by_listing: dict[str, int],
    spend_minor: int,
    now: datetime,
    member_monthly_caps: Mapping[str, int | None] | None = None,
) -> dict[str, Any]:
    """Count one order against every limit that is set, or raise QuotaExceeded.
    `member_monthly_caps` are the listings' own caps on a member's units a month: with the
    partner-wide one, the lower counts (one counter either way). Returns the
    counters it counted (for the order to keep): `spend` (key or None) and, per listing, the
    unit counters' keys. Counters are bumped in key order, the order `release` follows too."""
    day, month = periods(limits.timezone, now)
    checks: list[tuple[str, int, int | None, str]] = [
        (
            f"spend:{month}",
            spend_minor,
            limits.monthly_spend_cap_minor,
            "monthly wholesale spend cap",
        ),
        (
            f"member:{member_id}:orders:{day}",
            1,
            limits.member_daily_orders,
            "orders per member per day",
        ),
    ]
    usage: dict[str, Any] = {"spend": None, "listings": {}}
    if limits.monthly_spend_cap_minor is not None:
        usage["spend"] = f"spend:{month}"
    for listing_id, units in units_by_listing.items():
        unit_checks = [
            (
                f"listing:{listing_id}:{day}",
                units,
                limits.listing_daily_units,
                "units per listing per day",
            ),
            (
                f"member:{member_id}:listing:{listing_id}:{day}",
                units,
                limits.member_listing_daily_units,
                "units per member per listing per day",
            ),
            (
                f"member:{member_id}:listing:{listing_id}:{month}",
                units,
                _lower(
                    limits.member_listing_monthly_units,
                    (member_monthly_caps or {}).get(listing_id),
                ),
                "units per member per listing per month",
            ),
        ]
        checks += unit_checks
        usage["listings"][listing_id] = [key for key, _, cap, _ in unit_checks if cap is not None]
    for key, amount, cap, label in sorted(checks):
        if cap is None:
            continue
        if _bump(session, limits.partner_id, key, amount) > cap:
            raise QuotaExceeded(f"This order would exceed the {label} ({cap}).", limit=label)
    return usage


def _lower(*caps: int | None) -> int | None:
    set_caps = [cap for cap in caps if cap is not None]
    return min(set_caps) if set_caps else None


def release(
    session: Session,
    partner_id: str,
    usage: dict[str, Any],
    units_by_listing: dict[str, int],
    spend_minor: int,
) -> None:
    """Give back what refunded units counted: only the counters their order counted (`usage`
    from consume), by exactly their units and wholesale amount, in key order. Caps set or
    changed since the order do not matter; a counter never goes below what other orders hold."""
    give_back: dict[str, int] = {}
    if usage.get("spend") and spend_minor:
        give_back[usage["spend"]] = spend_minor
    for listing_id, units in units_by_listing.items():
        for key in usage.get("listings", {}).get(listing_id, []):
            give_back[key] = units
    for key in sorted(give_back):
        _bump(session, partner_id, key, -give_back[key])


def usage(session: Session, partner: Partner, now: datetime) -> dict[str, Any]:
    """What the partner has used of its partner-wide limits in the current periods."""
    limits = limits_for(session, partner.id)
    day, month = periods(partner.timezone, now)
    spent = session.scalar(
        select(UsageCounter.value).where(
            UsageCounter.partner_id == partner.id, UsageCounter.key == f"spend:{month}"
        )
    )
    return {
        "day": day,
        "month": month,
        "monthly_spend": {
            "used_minor": int(spent or 0),
            "cap_minor": limits.monthly_spend_cap_minor,
        },
        "limits": {f: getattr(limits, f) for f in QUOTA_FIELDS},
    }


def busiest_listings_today(
    session: Session, partner: Partner, now: datetime, most: int = 5
) -> list[tuple[str, int]]:
    """(listing id, units today) of the partner's listings nearest their daily cap: the
    counters exist only while `listing_daily_units` is set."""
    day, _month = periods(partner.timezone, now)
    rows = session.execute(
        select(UsageCounter.key, UsageCounter.value)
        .where(
            UsageCounter.partner_id == partner.id,
            UsageCounter.key.like("listing:%"),
            UsageCounter.key.like(f"%:{day}"),
        )
        .order_by(UsageCounter.value.desc())
        .limit(most)
    )
    return [(key.split(":")[1], int(value)) for key, value in rows]
