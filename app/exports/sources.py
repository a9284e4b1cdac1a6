"""What each kind of export holds: its header, its rows (one query, streamed), and the
permission a staff member needs to ask for it. Money is written in yuan (two decimals),
times in the partner's timezone; recharge accounts and phone numbers are never exported."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import AccountEntry
from app.fulfillment.models import Delivery
from app.members.models import Member
from app.orders.models import Order
from app.supply.models import Product

STREAM_BATCH = 2_000


def _yuan(minor: int | None) -> str:
    return "" if minor is None else f"{Decimal(minor) / 100:.2f}"


Local = Callable[[datetime | None], str]  # a UTC time as the partner's local ISO time


@dataclass(frozen=True)
class Source:
    permission: str
    header: Sequence[str]
    columns: Sequence[Any]
    joins: Sequence[tuple[Any, Any]]  # (model, on-clause)
    owner: Any  # the partner_id column
    time: Any  # the column the day range applies to
    row: Callable[[Any, Local], Sequence[Any]]


def _order_row(r: Any, local: Local) -> Sequence[Any]:
    return (r.id, local(r.created_at), r.status, r.external_id, r.client_reference or "",
            r.points_total, _yuan(r.cash_total_minor), _yuan(r.wholesale_total_minor),
            r.currency, local(r.cancelled_at))  # fmt: skip


def _delivery_row(r: Any, local: Local) -> Sequence[Any]:
    return (r.id, r.order_id, local(r.created_at), r.name, r.fulfillment_type, r.status,
            r.attempts, r.supplier_order_no or "", local(r.submitted_at),
            local(r.delivered_at))  # fmt: skip


def _ledger_row(r: Any, local: Local) -> Sequence[Any]:
    return (r.id, local(r.created_at), r.kind, _yuan(r.amount_minor),
            _yuan(r.balance_after_minor), r.currency, r.order_id or "", r.reason or "",
            r.actor)  # fmt: skip


def _member_row(r: Any, local: Local) -> Sequence[Any]:
    return (r.external_id, r.display_name or "", r.tier or "", r.status, r.points_balance,
            local(r.created_at))  # fmt: skip


SOURCES: dict[str, Source] = {
    "orders": Source(
        "orders:read",
        ("order_id", "created_at", "status", "member", "client_reference", "points", "cash",
         "wholesale", "currency", "cancelled_at"),
        (Order.id, Order.created_at, Order.status, Member.external_id, Order.client_reference,
         Order.points_total, Order.cash_total_minor, Order.wholesale_total_minor,
         Order.currency, Order.cancelled_at),
        [(Member, Member.id == Order.member_id)],
        Order.partner_id,
        Order.created_at,
        _order_row,
    ),
    "deliveries": Source(
        "orders:read",
        ("delivery_id", "order_id", "created_at", "product", "fulfillment_type", "status",
         "attempts", "supplier_order_no", "submitted_at", "delivered_at"),
        (Delivery.id, Delivery.order_id, Delivery.created_at, Product.name,
         Delivery.fulfillment_type, Delivery.status, Delivery.attempts,
         Delivery.supplier_order_no, Delivery.submitted_at, Delivery.delivered_at),
        [(Product, Product.id == Delivery.product_id)],
        Delivery.partner_id,
        Delivery.created_at,
        _delivery_row,
    ),
    "ledger": Source(
        "billing:read",
        ("entry_id", "created_at", "kind", "amount", "balance_after", "currency", "order_id",
         "reason", "actor"),
        (AccountEntry.id, AccountEntry.created_at, AccountEntry.kind, AccountEntry.amount_minor,
         AccountEntry.balance_after_minor, AccountEntry.currency, AccountEntry.order_id,
         AccountEntry.reason, AccountEntry.actor),
        [],
        AccountEntry.partner_id,
        AccountEntry.created_at,
        _ledger_row,
    ),
    "members": Source(
        "members:read",
        ("external_id", "display_name", "tier", "status", "points_balance", "created_at"),
        (Member.external_id, Member.display_name, Member.tier, Member.status,
         Member.points_balance, Member.created_at),
        [],
        Member.partner_id,
        Member.created_at,
        _member_row,
    ),
}  # fmt: skip


def rows(
    session: Session,
    kind: str,
    partner_id: str,
    timezone: str,
    start: datetime | None,
    end: datetime | None,
) -> Iterator[Sequence[Any]]:
    """The export's rows, read from the database in batches (a year of orders never sits in
    memory at once)."""
    source = SOURCES[kind]
    zone = ZoneInfo(timezone)

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""

    stmt = select(*source.columns)
    for model, on in source.joins:
        stmt = stmt.join(model, on)
    stmt = stmt.where(source.owner == partner_id)
    if start is not None and end is not None:
        stmt = stmt.where(source.time >= start, source.time < end)
    # by the first column: an id (ULIDs sort by time), or a member's external id
    result = session.execute(
        stmt.order_by(source.columns[0]).execution_options(yield_per=STREAM_BATCH)
    )
    for row in result:
        yield source.row(row, local)
