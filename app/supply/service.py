"""Supply rules: what is sellable (supplier active + valid authorization), stock and channel
allocations, and `allocate_codes`, the one way a card key leaves the pool."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import String, bindparam, func, literal, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import BindParameter

from app.core.audit import Actor, changed_fields, record_audit, record_changes
from app.core.db import UTCDateTime, inline_count, utcnow
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.core.pagination import Page, paginate
from app.core.tenancy import partner_exists, partner_region
from app.core.vault import Vault
from app.supply.errors import OutOfStock, SupplyConflict
from app.supply.models import (
    Allocation,
    Authorization,
    BundleComponent,
    Code,
    CodeBatch,
    Offer,
    Product,
    Supplier,
)
from app.webhooks.service import record_event

PLATFORM_TZ = ZoneInfo("Asia/Shanghai")


def platform_today(now: datetime | None = None) -> date:
    """Authorizations are dated contracts: 'valid today' means today in China."""
    return (now or utcnow()).astimezone(PLATFORM_TZ).date()


def _get(session: Session, model: type[_Row], id_: str, label: str) -> _Row:
    row = session.get(model, id_)
    if row is None:
        raise NotFound(f"{label} not found.")
    return row


_Row = TypeVar("_Row")


# --- suppliers ------------------------------------------------------------------------

SUPPLIER_FIELDS = (
    "name",
    "contact_name",
    "contact_email",
    "contact_phone",
    "api_base_url",
    "status",
    "low_balance_threshold_minor",
)


def _supplier_snapshot(s: Supplier) -> dict[str, Any]:
    snap = {f: getattr(s, f) for f in SUPPLIER_FIELDS}
    snap["credentials_key_id"] = s.credentials_key_id  # which key sealed them, never the value
    return snap


def _seal_credentials(vault: Vault, supplier: Supplier, credentials: dict[str, str]) -> None:
    sealed = vault.seal(json.dumps(credentials, sort_keys=True), f"supplier:{supplier.id}")
    supplier.credentials_key_id, supplier.credentials_blob = sealed.key_id, sealed.blob


def supplier_credentials(vault: Vault, supplier: Supplier) -> dict[str, str]:
    """For the supplier adapters only; never serialized to an API response or log."""
    if supplier.credentials_blob is None or supplier.credentials_key_id is None:
        return {}
    opened = vault.open(
        supplier.credentials_key_id, supplier.credentials_blob, f"supplier:{supplier.id}"
    )
    return dict(json.loads(opened))


def create_supplier(session: Session, actor: Actor, vault: Vault, data: dict[str, Any]) -> Supplier:
    if session.scalar(select(Supplier.id).where(Supplier.name == data["name"])):
        raise SupplyConflict(f"A supplier named {data['name']!r} exists.")
    supplier = Supplier(**{k: v for k, v in data.items() if k in SUPPLIER_FIELDS})
    session.add(supplier)
    if data.get("credentials"):
        _seal_credentials(vault, supplier, data["credentials"])
    session.flush()
    record_audit(
        session,
        actor,
        "supplier.created",
        "supplier",
        supplier.id,
        after=_supplier_snapshot(supplier),
    )
    return supplier


def update_supplier(
    session: Session, actor: Actor, vault: Vault, supplier: Supplier, data: dict[str, Any]
) -> Supplier:
    before = _supplier_snapshot(supplier)
    for key in SUPPLIER_FIELDS:
        if key in data:
            setattr(supplier, key, data[key])
    if data.get("credentials") is not None:
        _seal_credentials(vault, supplier, data["credentials"])
    after = _supplier_snapshot(supplier)
    changed = changed_fields(before, after)
    if data.get("credentials") is not None:
        changed.append("credentials")
    if changed:
        record_audit(
            session,
            actor,
            "supplier.updated",
            "supplier",
            supplier.id,
            before={k: before.get(k) for k in changed},
            after={k: after.get(k, "(sealed)") for k in changed},
        )
    if "status" in changed:
        refresh_availability(session, actor)
    return supplier


def get_supplier(session: Session, supplier_id: str) -> Supplier:
    return _get(session, Supplier, supplier_id, "Supplier")


def list_suppliers(session: Session, limit: int, cursor: str | None) -> Page[Supplier]:
    return paginate(session, select(Supplier), Supplier.id, limit, cursor)


# --- authorizations -------------------------------------------------------------------

AUTHORIZATION_FIELDS = (
    "brand",
    "grantor",
    "scope_brands",
    "scope_categories",
    "region",
    "is_exclusive",
    "valid_from",
    "valid_until",
    "contract_ref",
)


def _authorization_snapshot(a: Authorization) -> dict[str, Any]:
    snap = {f: getattr(a, f) for f in AUTHORIZATION_FIELDS}
    snap["valid_from"], snap["valid_until"] = str(a.valid_from), str(a.valid_until)
    snap["revoked"] = a.revoked_at is not None
    return snap


def _check_dates(valid_from: date, valid_until: date) -> None:
    if valid_until < valid_from:
        raise ValidationFailed({"valid_until": ["Must not be before valid_from."]})


def create_authorization(
    session: Session, actor: Actor, supplier: Supplier, data: dict[str, Any]
) -> Authorization:
    _check_dates(data["valid_from"], data["valid_until"])
    authorization = Authorization(supplier=supplier, **data)
    session.add(authorization)
    session.flush()
    record_audit(
        session,
        actor,
        "authorization.created",
        "authorization",
        authorization.id,
        after=_authorization_snapshot(authorization),
    )
    refresh_availability(session, actor)
    return authorization


def update_authorization(
    session: Session, actor: Actor, authorization: Authorization, data: dict[str, Any]
) -> Authorization:
    before = _authorization_snapshot(authorization)
    for key, value in data.items():
        if key == "revoked":
            authorization.revoked_at = (authorization.revoked_at or utcnow()) if value else None
        elif key in AUTHORIZATION_FIELDS:
            setattr(authorization, key, value)
    _check_dates(authorization.valid_from, authorization.valid_until)
    after = _authorization_snapshot(authorization)
    changed = record_changes(
        session, actor, "authorization.updated", "authorization", authorization.id, before, after
    )
    if changed:
        refresh_availability(session, actor)
    return authorization


def get_authorization(session: Session, authorization_id: str) -> Authorization:
    return _get(session, Authorization, authorization_id, "Authorization")


def list_authorizations(
    session: Session,
    limit: int,
    cursor: str | None,
    supplier_id: str | None = None,
    brand: str | None = None,
    expiring_within_days: int | None = None,
    today: date | None = None,
) -> Page[Authorization]:
    """Optionally only those still valid today that lapse within N days (renewal worklist)."""
    stmt = select(Authorization)
    if supplier_id:
        stmt = stmt.where(Authorization.supplier_id == supplier_id)
    if brand:
        stmt = stmt.where(func.lower(Authorization.brand) == brand.lower())
    if expiring_within_days is not None:
        day = today or platform_today()
        stmt = stmt.where(
            Authorization.revoked_at.is_(None),
            Authorization.valid_from <= day,
            Authorization.valid_until >= day,
            Authorization.valid_until <= day + timedelta(days=expiring_within_days),
        )
    return paginate(session, stmt, Authorization.id, limit, cursor)


# --- availability ---------------------------------------------------------------------


def _authorized_products(session: Session, products: Sequence[Product], day: date) -> set[str]:
    offers = session.scalars(
        select(Offer)
        .join(Supplier, Supplier.id == Offer.supplier_id)
        .where(Offer.status == "active", Supplier.status == "active")
        .options(selectinload(Offer.supplier).selectinload(Supplier.authorizations))
        .execution_options(populate_existing=True)
    ).all()
    by_product: dict[str, list[Offer]] = {}
    for offer in offers:
        by_product.setdefault(offer.product_id, []).append(offer)

    def has_valid_offer(product: Product) -> bool:
        return product.status == "active" and any(
            auth.is_valid_on(day) and auth.covers(product.brand, product.category)
            for offer in by_product.get(product.id, [])
            for auth in offer.supplier.authorizations
        )

    ok = {p.id for p in products if not p.is_bundle and has_valid_offer(p)}
    for bundle in (p for p in products if p.is_bundle):
        if (
            bundle.status == "active"
            and bundle.components
            and all(c.component_id in ok for c in bundle.components)
        ):
            ok.add(bundle.id)
    return ok


def refresh_availability(session: Session, actor: Actor, day: date | None = None) -> list[str]:
    """Recompute `is_authorized` for every product. A product whose last valid authorization
    lapsed becomes unavailable to every partner (audit + `supply.authorization_lapsed` event);
    one that gains or regains one becomes sellable (audit). Returns the changed product ids.
    Run daily (`flask supply check-authorizations`) and after every supply change."""
    day = day or platform_today()
    session.flush()
    products = session.scalars(select(Product).options(selectinload(Product.components))).all()
    authorized = _authorized_products(session, products, day)
    changed = []
    for product in products:
        now_ok = product.id in authorized
        if now_ok == product.is_authorized:
            continue
        product.is_authorized = now_ok
        changed.append(product.id)
        action = "product.authorized" if now_ok else "supply.authorization_lapsed"
        record_audit(
            session,
            actor,
            action,
            "product",
            product.id,
            before={"is_authorized": not now_ok},
            after={"is_authorized": now_ok, "on": str(day)},
        )
        if not now_ok:
            data = {"product_id": product.id, "brand": product.brand, "date": str(day)}
            record_event(session, action, data)
    return changed


GLOBAL_REGION = "GLOBAL"


def serving_authorizations(
    session: Session, product: Product, region: str | None, day: date
) -> dict[str, Authorization]:
    """The suppliers that may supply `product` on `day` to a partner of `region` (None: any
    region, as for an import of codes), each with the authorization it serves under: a valid
    one covering the brand and category there ("GLOBAL" covers every region); where a supplier
    holds an exclusive one there, only such holders."""
    valid = [
        authorization
        for authorization in session.scalars(
            select(Authorization)
            .where(
                Authorization.revoked_at.is_(None),
                Authorization.valid_from <= day,
                Authorization.valid_until >= day,
            )
            .order_by(Authorization.id)
        )
        if authorization.covers(product.brand, product.category)
        and (region is None or authorization.region in (region, GLOBAL_REGION))
    ]
    exclusive = {a.supplier_id for a in valid if a.is_exclusive}
    serving: dict[str, Authorization] = {}
    for authorization in valid:
        if not exclusive or authorization.supplier_id in exclusive:
            serving.setdefault(authorization.supplier_id, authorization)
    return serving


def code_provenance(session: Session, code_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Where each card key came from: its batch, the offer and supplier it was bought under,
    and the authorization (with its contract reference) checked when it was imported."""
    if not code_ids:
        return {}
    rows = session.execute(
        select(
            Code.id,
            CodeBatch.id,
            CodeBatch.offer_id,
            Offer.supplier_id,
            CodeBatch.authorization_id,
            Authorization.contract_ref,
        )
        .join(CodeBatch, CodeBatch.id == Code.batch_id)
        .outerjoin(Offer, Offer.id == CodeBatch.offer_id)
        .outerjoin(Authorization, Authorization.id == CodeBatch.authorization_id)
        .where(Code.id.in_(code_ids))
    ).all()
    return {
        code_id: {
            "batch_id": batch_id,
            "offer_id": offer_id,
            "supplier_id": supplier_id,
            "authorization_id": authorization_id,
            "contract_ref": contract_ref,
        }
        for code_id, batch_id, offer_id, supplier_id, authorization_id, contract_ref in rows
    }


def is_sellable(product: Product) -> bool:
    return product.status == "active" and product.is_authorized


# --- products and offers --------------------------------------------------------------

PRODUCT_FIELDS = (
    "brand",
    "name",
    "category",
    "fulfillment_type",
    "validity_days",
    "description",
    "image_url",
    "status",
    "recharge_account_kind",
    "stock_capacity",
    "low_stock_threshold",
)


def product_snapshot(p: Product) -> dict[str, Any]:
    snap = {f: getattr(p, f) for f in PRODUCT_FIELDS}
    snap["face_value"] = {"amount": p.face_value_minor, "currency": p.currency}
    snap["components"] = [[c.component_id, c.quantity] for c in p.components]
    return snap


def _apply_product(session: Session, product: Product, data: dict[str, Any]) -> None:
    for key in PRODUCT_FIELDS:
        if key in data:
            setattr(product, key, data[key])
    if "face_value" in data:
        product.face_value_minor, product.currency = (
            data["face_value"].amount,
            data["face_value"].currency,
        )
    if product.fulfillment_type == "direct_recharge" and not product.recharge_account_kind:
        raise ValidationFailed({"recharge_account_kind": ["Required for direct recharge."]})
    if product.fulfillment_type != "direct_recharge":
        product.recharge_account_kind = None
    if "components" in data:
        _set_components(session, product, data["components"])


def _set_components(session: Session, bundle: Product, components: list[dict[str, Any]]) -> None:
    errors = []
    seen = set()
    for i, item in enumerate(components):
        component = session.get(Product, item["component_id"])
        if component is None:
            errors.append(f"components[{i}]: product {item['component_id']} not found")
        elif component.is_bundle or component.id == bundle.id:
            errors.append(f"components[{i}]: a bundle cannot contain a bundle")
        elif component.id in seen:
            errors.append(f"components[{i}]: listed twice")
        seen.add(item["component_id"])
    if len(components) < 2:
        errors.append("a bundle needs at least two components")
    if errors:
        raise ValidationFailed({"components": errors})
    bundle.is_bundle = True
    bundle.components = [
        BundleComponent(component_id=item["component_id"], quantity=item["quantity"], position=i)
        for i, item in enumerate(components)
    ]


def create_product(session: Session, actor: Actor, data: dict[str, Any]) -> Product:
    product = Product(is_authorized=False, is_bundle=bool(data.get("components")))
    session.add(product)
    _apply_product(session, product, data)
    session.flush()
    record_audit(
        session, actor, "product.created", "product", product.id, after=product_snapshot(product)
    )
    refresh_availability(session, actor)
    return product


def update_product(
    session: Session, actor: Actor, product: Product, data: dict[str, Any]
) -> Product:
    before = product_snapshot(product)
    _apply_product(session, product, data)
    after = product_snapshot(product)
    changed = record_changes(
        session, actor, "product.updated", "product", product.id, before, after
    )
    if changed:
        refresh_availability(session, actor)
    return product


def get_product(session: Session, product_id: str, for_update: bool = False) -> Product:
    if for_update:
        product = session.scalars(
            select(Product).where(Product.id == product_id).with_for_update()
        ).first()
        if product is None:
            raise NotFound("Product not found.")
        return product
    return _get(session, Product, product_id, "Product")


def list_products(
    session: Session, limit: int, cursor: str | None, **filters: Any
) -> Page[Product]:
    stmt = select(Product)
    for name in ("brand", "category", "fulfillment_type", "status"):
        if filters.get(name):
            stmt = stmt.where(getattr(Product, name) == filters[name])
    if filters.get("is_authorized") is not None:
        stmt = stmt.where(Product.is_authorized == filters["is_authorized"])
    return paginate(session, stmt, Product.id, limit, cursor)


OFFER_FIELDS = ("supplier_sku", "priority", "status")


def _offer_snapshot(o: Offer) -> dict[str, Any]:
    snap = {f: getattr(o, f) for f in OFFER_FIELDS}
    snap["cost"] = {"amount": o.cost_minor, "currency": o.currency}
    return snap


class SupplierCredentialsMissing(DomainError):
    status, code, title = 422, "supplier_credentials_missing", "Supplier has no credentials"


def _check_can_serve(product: Product, supplier: Supplier, status: str) -> None:
    """An active offer of a direct recharge or a link is fulfilled through the supplier's API
    and its signed callbacks: without credentials nothing could verify them."""
    if (
        status == "active"
        and product.fulfillment_type != "card_key"
        and supplier.credentials_blob is None
    ):
        raise SupplierCredentialsMissing(
            "Give the supplier its API credentials before activating an offer of it."
        )


def create_offer(
    session: Session, actor: Actor, product: Product, supplier: Supplier, data: dict[str, Any]
) -> Offer:
    if product.is_bundle:
        raise ValidationFailed({"product": ["A bundle is supplied through its components."]})
    _check_can_serve(product, supplier, data.get("status", "active"))
    offer = Offer(
        product_id=product.id,
        supplier_id=supplier.id,
        supplier_sku=data["supplier_sku"],
        cost_minor=data["cost"].amount,
        currency=data["cost"].currency,
        priority=data.get("priority", 100),
        status=data.get("status", "active"),
    )
    session.add(offer)
    session.flush()
    record_audit(session, actor, "offer.created", "offer", offer.id, after=_offer_snapshot(offer))
    refresh_availability(session, actor)
    return offer


def update_offer(session: Session, actor: Actor, offer: Offer, data: dict[str, Any]) -> Offer:
    _check_can_serve(
        session.get_one(Product, offer.product_id),
        session.get_one(Supplier, offer.supplier_id),
        data.get("status", offer.status),
    )
    before = _offer_snapshot(offer)
    for key in OFFER_FIELDS:
        if key in data:
            setattr(offer, key, data[key])
    if "cost" in data:
        offer.cost_minor, offer.currency = data["cost"].amount, data["cost"].currency
    after = _offer_snapshot(offer)
    changed = record_changes(session, actor, "offer.updated", "offer", offer.id, before, after)
    if changed:
        refresh_availability(session, actor)
    return offer


def get_offer(session: Session, product_id: str, offer_id: str) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.product_id != product_id:
        raise NotFound("Offer not found.")
    return offer


# --- stock and channel allocations ----------------------------------------------------


def _available(
    product_id: str | BindParameter[str], now: datetime | BindParameter[datetime]
) -> Any:
    return select(Code).where(
        Code.product_id == product_id,
        Code.status == "available",
        or_(Code.expires_at.is_(None), Code.expires_at > now),
    )


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


# Built once (every order runs it): statement construction costs more than execution.
_ACTIVE_ALLOCATION = select(Allocation).where(
    Allocation.product_id == bindparam("product_id"),
    Allocation.partner_id == bindparam("partner_id"),
    Allocation.status == "active",
)


def active_allocation(session: Session, product_id: str, partner_id: str) -> Allocation | None:
    return session.scalars(
        _ACTIVE_ALLOCATION, {"product_id": product_id, "partner_id": partner_id}
    ).first()


AVAILABLE_CAP = 1000  # availability reads exact below this, and this at or above it


@dataclass(frozen=True)
class Pools:
    """Where a partner's card keys of one product come from, in order: its allocation, then
    the shared pool unless the allocation is exclusive. The allocation and the catalog's
    availability counts read them alike. Two values, not the Allocation: an order reads them
    as columns with its listing."""

    allocation_id: str | None = None
    is_exclusive: bool = False
    # the partner's region: only codes bought under an authorization serving it (None: any)
    region: str | None = None

    @classmethod
    def of(cls, allocation: Allocation | None, region: str | None = None) -> Pools:
        if allocation is None:
            return cls(region=region)
        return cls(allocation.id, allocation.is_exclusive, region)

    @property
    def ids(self) -> list[str | None]:
        """Allocation ids to draw from; None is the shared pool."""
        own: list[str | None] = [self.allocation_id] if self.allocation_id else []
        return own + ([] if self.is_exclusive else [None])


def _serves_region(region: str | BindParameter[str]) -> Any:
    """Codes whose batch was bought under an authorization serving `region` (or under none
    recorded: batches imported before authorizations were kept with them)."""
    return Code.batch_id.in_(
        select(CodeBatch.id)
        .outerjoin(Authorization, Authorization.id == CodeBatch.authorization_id)
        .where(
            or_(
                CodeBatch.authorization_id.is_(None),
                Authorization.region.in_([region, GLOBAL_REGION]),
            )
        )
    )


def _in_pool(allocation_id: str | None) -> Any:
    return Code.allocation_id == allocation_id if allocation_id else Code.allocation_id.is_(None)


def availability(
    session: Session, products: Sequence[Product], partner_id: str
) -> dict[str, int | None]:
    """Units this partner can buy now, per product id (None: unlimited), in two queries for
    any number of products: the partner's allocations, then code counts by pool. Each count
    stops at AVAILABLE_CAP (an index range of at most that many rows), so a catalog page costs
    the same with a thousand codes in stock or millions. A bundle is limited by its scarcest
    component."""
    card_keys = {p.id for p in products if p.fulfillment_type == "card_key" and not p.is_bundle}
    card_keys |= {
        c.component_id
        for p in products
        if p.is_bundle
        for c in p.components
        if c.component.fulfillment_type == "card_key"
    }
    counts: dict[tuple[str, str | None], int] = {}
    pools: dict[str, Pools] = {}
    if card_keys:
        allocations = session.scalars(
            select(Allocation).where(
                Allocation.product_id.in_(card_keys),
                Allocation.partner_id == partner_id,
                Allocation.status == "active",
            )
        ).all()
        own = {a.product_id: a for a in allocations}
        region = partner_region(session, partner_id)
        pools = {pid: Pools.of(own.get(pid), region) for pid in card_keys}
        now = utcnow()
        bounded = [
            select(
                literal(pid).label("product_id"),
                literal(aid, String).label("allocation_id"),
                select(func.count())
                .select_from(
                    _available(pid, now)
                    .where(_in_pool(aid), *([_serves_region(region)] if region else []))
                    .with_only_columns(Code.id)
                    .limit(inline_count(AVAILABLE_CAP))
                    .subquery()
                )
                .scalar_subquery()
                .label("n"),
            )
            for pid, pool in pools.items()
            for aid in pool.ids
        ]
        rows = session.execute(union_all(*bounded)).all()
        counts = {(pid, aid): int(n) for pid, aid, n in rows}

    def units(product: Product) -> int | None:
        if product.id in pools:  # every card key is
            return sum(counts.get((product.id, aid), 0) for aid in pools[product.id].ids)
        return product.stock_capacity

    out: dict[str, int | None] = {}
    for product in products:
        if product.is_bundle:
            limited = [
                n // c.quantity for c in product.components if (n := units(c.component)) is not None
            ]
            out[product.id] = min(limited) if limited else None
        else:
            out[product.id] = units(product)
    return out


def available_for_partner(session: Session, product: Product, partner_id: str) -> int | None:
    return availability(session, [product], partner_id)[product.id]


def stock_summary(session: Session, product: Product) -> dict[str, Any]:
    now = utcnow()
    if product.fulfillment_type != "card_key" or product.is_bundle:
        return {
            "product_id": product.id,
            "unlimited": product.stock_capacity is None and not product.is_bundle,
            "available": product.stock_capacity,
            "shared": product.stock_capacity,
            "allocations": [],
        }
    allocations = session.scalars(
        select(Allocation).where(Allocation.product_id == product.id, Allocation.status == "active")
    ).all()
    per_allocation: list[dict[str, Any]] = [
        {
            "allocation_id": a.id,
            "partner_id": a.partner_id,
            "is_exclusive": a.is_exclusive,
            "available": _count(
                session, _available(product.id, now).where(Code.allocation_id == a.id)
            ),
        }
        for a in allocations
    ]
    shared = _count(session, _available(product.id, now).where(Code.allocation_id.is_(None)))
    return {
        "product_id": product.id,
        "unlimited": False,
        "available": shared + sum(a["available"] for a in per_allocation),
        "shared": shared,
        "allocations": per_allocation,
    }


@functools.cache
def _claim_statement(shared: bool, fields: tuple[str, ...], regional: bool) -> Any:
    """UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING, built once per shape
    (every order runs one): its construction costs more than its execution."""
    in_pool = (
        Code.allocation_id.is_(None)
        if shared
        else Code.allocation_id == bindparam("claim_allocation_id")
    )
    pick = (
        _available(
            bindparam("claim_product_id", type_=String), bindparam("claim_now", type_=UTCDateTime())
        )
        .where(in_pool)
        .where(*([_serves_region(bindparam("claim_region", type_=String))] if regional else []))
        .with_only_columns(Code.id)
        .order_by(Code.expires_at.asc().nulls_last(), Code.id)
        .limit(inline_count(name="claim_limit"))
        .with_for_update(skip_locked=True)
    )
    changes: dict[str, Any] = {field: bindparam(f"claim_set_{field}") for field in fields}
    # read as a SELECT of its RETURNING rows: the ORM's bulk-UPDATE path (session
    # synchronization, a statement rebuilt per call) cost a third more for the same SQL
    return select(Code).from_statement(
        update(Code).where(Code.id.in_(pick)).values(changes).returning(Code)
    )


def _claim(
    session: Session,
    product_id: str,
    allocation_id: str | None,
    quantity: int,
    now: datetime,
    changes: dict[str, Any],
    region: str | None = None,
) -> list[Code]:
    """Claim up to `quantity` available codes of one pool (and, with `region`, bought under an
    authorization serving it), soonest-expiring first, applying `changes`, in one statement.
    SKIP LOCKED: concurrent callers take disjoint rows instead of queueing behind each other.
    A caller refusing a short claim raises, and its transaction is rolled back."""
    params = {
        "claim_region": region,
        "claim_product_id": product_id,
        "claim_allocation_id": allocation_id,
        "claim_now": now,
        "claim_limit": quantity,
        **{f"claim_set_{field}": value for field, value in changes.items()},
    }
    claimed = session.scalars(
        _claim_statement(allocation_id is None, tuple(changes), region is not None),
        params,
        execution_options={"populate_existing": True},
    ).all()
    # RETURNING keeps no order: hand them out soonest-expiring first, as picked
    return sorted(claimed, key=lambda c: (c.expires_at is None, c.expires_at or now, c.id))


def allocate_codes(
    session: Session,
    product: Product,
    partner_id: str,
    quantity: int,
    status: str = "reserved",
    pools: Pools | None = None,
) -> list[Code]:
    """Claim exactly `quantity` codes of `product` for `partner_id`, or raise OutOfStock (and
    the caller's transaction, which may hold part of a claim, is rolled back).

    Never hands one code to two callers: on PostgreSQL rows are claimed with `FOR UPDATE SKIP
    LOCKED` inside the caller's transaction; on SQLite every write transaction is serialized (BEGIN
    IMMEDIATE). The partner's pools are drawn in order (`Pools`); codes held for other partners are
    never taken, nor expired or voided ones. The codes come back in `status`: `reserved`, or `sold`
    when the caller delivers them in the same transaction. `pools`: the partner's pools of
    `product` when the caller has already read them (in this transaction)."""
    if quantity < 1:
        raise ValueError("quantity must be positive")
    now = utcnow()
    if pools is None:
        pools = Pools.of(
            active_allocation(session, product.id, partner_id), partner_region(session, partner_id)
        )
    changes = {"status": status, "reserved_at": now, "reserved_for_partner_id": partner_id}
    picked: list[Code] = []
    for allocation_id in pools.ids:
        picked += _claim(
            session, product.id, allocation_id, quantity - len(picked), now, changes, pools.region
        )
        if len(picked) == quantity:
            break
    if len(picked) < quantity:
        raise OutOfStock(f"Only {len(picked)} of {quantity} unit(s) are available.")
    check_low_stock(session, product)
    return picked


def reserve_capacity(session: Session, product: Product, quantity: int) -> None:
    """Take `quantity` units of a direct-recharge or link product's capacity (None: unlimited),
    atomically: a conditional UPDATE, so racing orders can never take more than there is."""
    if product.stock_capacity is None:
        return
    taken = session.execute(
        update(Product)
        .where(Product.id == product.id, Product.stock_capacity >= quantity)
        .values(stock_capacity=Product.stock_capacity - quantity)
        .returning(Product.stock_capacity)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        raise OutOfStock(f"Fewer than {quantity} unit(s) of capacity are left.")
    product.stock_capacity = taken.stock_capacity
    session.flush()
    check_low_stock(session, product)


def release_capacity(session: Session, product_id: str, quantity: int) -> None:
    """Give back capacity of cancelled units (unlimited products have nothing to return)."""
    session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock_capacity.is_not(None))
        .values(stock_capacity=Product.stock_capacity + quantity)
        .execution_options(synchronize_session=False)
    )


def check_low_stock(session: Session, product: Product) -> None:
    """Emit `stock.low` once per crossing below the threshold; re-arm when stock recovers.
    The count is bounded (threshold + 1 rows) and the flag flips by a conditional UPDATE, so
    concurrent orders emit it once and do not contend on the product row in between."""
    threshold = product.low_stock_threshold
    if threshold is None or product.is_bundle:
        return
    if product.fulfillment_type == "card_key":
        available = _count(
            session,
            _available(product.id, utcnow())
            .with_only_columns(Code.id)
            .limit(inline_count(threshold + 1)),
        )
    elif product.stock_capacity is None:
        return
    else:
        available = product.stock_capacity
    low = available <= threshold
    flipped = session.execute(
        update(Product)
        .where(Product.id == product.id, Product.is_low_stock.is_(not low))
        .values(is_low_stock=low)
        .execution_options(synchronize_session=False)
    )
    if low and getattr(flipped, "rowcount", None):
        record_event(
            session,
            "stock.low",
            {"product_id": product.id, "available": available, "threshold": threshold},
        )


def create_allocation(
    session: Session,
    actor: Actor,
    product: Product,
    partner_id: str,
    quantity: int,
    is_exclusive: bool,
) -> Allocation:
    """Carve `quantity` codes out of the shared pool for one partner."""
    if not partner_exists(session, partner_id):
        raise NotFound("Partner not found.")
    if product.fulfillment_type != "card_key" or product.is_bundle:
        raise ValidationFailed({"product": ["Channel allocations hold card keys only."]})
    allocation = Allocation(
        product_id=product.id, partner_id=partner_id, quantity=quantity, is_exclusive=is_exclusive
    )
    try:  # the unique index refuses a second active one, even one created at the same moment
        with session.begin_nested():
            session.add(allocation)
    except IntegrityError:
        raise SupplyConflict(
            "This partner already has an allocation of this product; release it first."
        ) from None
    codes = _claim(
        session,
        product.id,
        None,
        quantity,
        utcnow(),
        {"allocation_id": allocation.id},
        partner_region(session, partner_id),
    )
    if len(codes) < quantity:
        raise OutOfStock(f"Only {len(codes)} shared unit(s) are available to allocate.")
    record_audit(
        session,
        actor,
        "allocation.created",
        "allocation",
        allocation.id,
        partner_id=partner_id,
        after=allocation.snapshot(),
    )
    return allocation


def release_allocation(session: Session, actor: Actor, allocation: Allocation) -> Allocation:
    """Return the allocation's unsold codes to the shared pool."""
    if allocation.status != "active":
        return allocation
    session.execute(
        update(Code)
        .where(Code.allocation_id == allocation.id, Code.status == "available")
        .values(allocation_id=None)
        .execution_options(synchronize_session=False)
    )
    before = allocation.snapshot()
    allocation.status, allocation.released_at = "released", utcnow()
    record_audit(
        session,
        actor,
        "allocation.released",
        "allocation",
        allocation.id,
        partner_id=allocation.partner_id,
        before=before,
        after=allocation.snapshot(),
    )
    return allocation


def get_allocation(session: Session, allocation_id: str) -> Allocation:
    return _get(session, Allocation, allocation_id, "Allocation")


def list_allocations(session: Session, product_id: str) -> list[Allocation]:
    return list(
        session.scalars(
            select(Allocation).where(Allocation.product_id == product_id).order_by(Allocation.id)
        )
    )


# --- recharge accounts ------------------------------------------------------------------

ACCOUNT_PATTERNS = {
    "phone": (r"^1[3-9]\d{9}$", "a mainland mobile number: 1[3-9] followed by 9 digits"),
    "qq": (r"^[1-9]\d{4,11}$", "a QQ number: 5 to 12 digits, not starting with 0"),
    "email": (r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an email address"),
    "account_id": (r"^[A-Za-z0-9_.@-]{3,64}$", "3 to 64 letters, digits or _ . @ -"),
}


def recharge_account_error(kind: str, value: str | None) -> str | None:
    """Why `value` cannot receive a direct recharge of `kind`, or None when it can."""
    pattern, expected = ACCOUNT_PATTERNS[kind]
    if not value or not re.fullmatch(pattern, value):
        return f"Expected {expected}."
    return None
