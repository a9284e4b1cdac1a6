"""Tenancy: the current partner comes only from the principal (a token, a staff or member
session), and partner-owned rows are reached only through these helpers, so no query can
forget its `partner_id`.

A row of another partner is indistinguishable from a missing row: both answer 404.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import g
from sqlalchemy import ForeignKey, Select, String, column, select, table
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from app.core.errors import Forbidden, NotFound

T = TypeVar("T", bound="PartnerOwnedMixin")


class PartnerRequired(Forbidden):
    code = "partner_required"


class PartnerSuspended(Forbidden):
    code = "partner_suspended"


# The tenant's own row, as far as the kernel needs it: whether it may act at all, and where
# its members are. (The partners package owns the model; the kernel cannot import it.)
_PARTNERS = table(
    "partners",
    column("id", String),
    column("status", String),
    column("region", String),
    column("slug", String),
    column("name", String),
    column("timezone", String),
)
ACTIVE = "active"


def is_partner_active(session: Session, partner_id: str) -> bool:
    """A suspended or closed partner gets no tokens, no API, no fulfilment and no webhooks
    until it is active again; operators still see everything."""
    status = session.scalar(select(_PARTNERS.c.status).where(_PARTNERS.c.id == partner_id))
    return status == ACTIVE


def partner_exists(session: Session, partner_id: str) -> bool:
    return session.scalar(select(_PARTNERS.c.id).where(_PARTNERS.c.id == partner_id)) is not None


def partner_id_by_slug(session: Session, slug: str) -> str | None:
    return session.scalar(select(_PARTNERS.c.id).where(_PARTNERS.c.slug == slug))


def partner_name(session: Session, partner_id: str) -> str:
    return str(session.scalar(select(_PARTNERS.c.name).where(_PARTNERS.c.id == partner_id)))


def partner_timezone(session: Session, partner_id: str) -> str:
    """The partner's own timezone: days and months are counted in it."""
    return str(session.scalar(select(_PARTNERS.c.timezone).where(_PARTNERS.c.id == partner_id)))


def partner_region(session: Session, partner_id: str) -> str | None:
    """Where the partner's members are: supply authorizations are checked against it."""
    return session.scalar(select(_PARTNERS.c.region).where(_PARTNERS.c.id == partner_id))


class PartnerOwnedMixin:
    """Every tenant-owned table carries `partner_id` (and hot lookups start with it)."""

    @declared_attr
    def partner_id(cls) -> Mapped[str]:  # noqa: N805 - SQLAlchemy declared_attr
        return mapped_column(String(40), ForeignKey("partners.id"), index=True)


def current_partner_id() -> str:
    """The partner of the request's principal (app/core/principal.py); the platform has none."""
    principal = g.get("principal")
    partner_id: str | None = principal.partner_id if principal is not None else None
    if not partner_id:
        raise PartnerRequired("This endpoint needs a partner client's token.")
    return partner_id


def scoped(model: type[T], partner_id: str) -> Select[T]:
    """`SELECT model WHERE partner_id = :partner_id` — the start of every partner-owned query."""
    return select(model).where(model.partner_id == partner_id)


def get_owned(
    session: Session,
    model: type[T],
    partner_id: str,
    *where: Any,
    for_update: bool = False,
    label: str | None = None,
) -> T:
    """Fetch one partner-owned row matching `where`, or raise NotFound (also for foreign rows)."""
    stmt = scoped(model, partner_id).where(*where)
    if for_update:
        stmt = stmt.with_for_update(of=model)  # not the eagerly joined rows
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"{label or model.__name__} not found.")
    return row
