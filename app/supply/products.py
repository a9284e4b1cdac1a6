"""The platform's products (single goods and bundles), the supplier offers that serve them, and
the recharge accounts a direct recharge accepts."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit, record_changes
from app.core.db import get_or_404
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.core.pagination import Page, paginate
from app.supply.models import (
    BundleComponent,
    Offer,
    Product,
    Supplier,
)
from app.supply.suppliers import refresh_availability

# --- products and offers --------------------------------------------------------------

PRODUCT_FIELDS = (
    "brand",
    "name",
    "category",
    "fulfillment_type",
    "validity_days",
    "description",
    "instructions",
    "terms",
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
    return get_or_404(session, Product, product_id, "Product")


def list_products(
    session: Session, limit: int, cursor: str | None, **filters: Any
) -> Page[Product]:
    sandbox = Product.sandbox_behaviour.is_not(None)
    stmt = select(Product).where(sandbox if filters.get("sandbox") else ~sandbox)
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
    code = "supplier_credentials_missing"


def _check_can_serve(product: Product, supplier: Supplier, status: str) -> None:
    """An active offer of a direct recharge or a link is fulfilled through the supplier's API
    and its signed callbacks: without credentials nothing could verify them."""
    if (
        status == "active"
        and product.fulfillment_type != "card_key"
        and supplier.credentials_blob is None
        and not supplier.is_sandbox  # answers in-process: nothing to sign or verify
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


def card_key_products(session: Session) -> list[Product]:
    """Live card-key products that are not bundles: what channel stock can be held of."""
    return list(
        session.scalars(
            select(Product)
            .where(
                Product.fulfillment_type == "card_key",
                Product.is_bundle.is_(False),
                Product.sandbox_behaviour.is_(None),
            )
            .order_by(Product.brand, Product.name)
        )
    )


def card_key_offers(session: Session) -> list[tuple[str, str, str]]:
    """(offer id, product name, supplier name) of every live card-key offer: what a code batch
    can be bought under."""
    rows = session.execute(
        select(Offer.id, Product.name, Supplier.name)
        .join(Product, Product.id == Offer.product_id)
        .join(Supplier, Supplier.id == Offer.supplier_id)
        .where(Product.fulfillment_type == "card_key", Product.sandbox_behaviour.is_(None))
        .order_by(Product.name, Supplier.name)
    )
    return [(offer, product, supplier) for offer, product, supplier in rows]
