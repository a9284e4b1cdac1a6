"""Who may sell what: suppliers, their authorizations (dated contracts for a brand in a
region), and what that makes sellable today; where a delivered code came from."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, undefer

from app.core.audit import Actor, changed_fields, record_audit, record_changes
from app.core.db import get_or_404, utcnow
from app.core.errors import NotFound, ValidationFailed
from app.core.pagination import Page, paginate
from app.core.vault import Vault
from app.supply.errors import SupplyConflict
from app.supply.models import (
    Authorization,
    AuthorizationDocument,
    Code,
    CodeBatch,
    Offer,
    Product,
    Supplier,
)
from app.webhooks.outbox import record_event

PLATFORM_TZ = ZoneInfo("Asia/Shanghai")


def platform_today(now: datetime | None = None) -> date:
    """Authorizations are dated contracts: 'valid today' means today in China."""
    return (now or utcnow()).astimezone(PLATFORM_TZ).date()


# --- suppliers ------------------------------------------------------------------------

SUPPLIER_FIELDS = (
    "name",
    "contact_name",
    "contact_email",
    "contact_phone",
    "api_base_url",
    "status",
    "low_balance_threshold_minor",
    "is_sandbox",
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
    return get_or_404(session, Supplier, supplier_id, "Supplier")


def list_suppliers(
    session: Session, limit: int, cursor: str | None, sandbox: bool = False
) -> Page[Supplier]:
    stmt = select(Supplier).where(Supplier.is_sandbox == sandbox)
    return paginate(session, stmt, Supplier.id, limit, cursor)


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


# what an authorization document may be, by the first bytes of the file (not its name)
DOCUMENT_TYPES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def attach_document(
    session: Session, actor: Actor, authorization: Authorization, filename: str, raw: bytes
) -> AuthorizationDocument:
    """Keep a scan of the authorization's contract: a PDF, PNG or JPEG of at most 10 MiB."""
    if not raw or len(raw) > MAX_DOCUMENT_BYTES:
        raise ValidationFailed({"file": ["A file of 1 byte to 10 MiB."]})
    content_type = next((t for magic, t in DOCUMENT_TYPES.items() if raw.startswith(magic)), None)
    if content_type is None:
        raise ValidationFailed({"file": ["A PDF, PNG or JPEG file."]})
    document = AuthorizationDocument(
        authorization_id=authorization.id,
        filename=(filename or "document").replace("\\", "/").rsplit("/", 1)[-1][:255],
        content_type=content_type,
        size_bytes=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        content=raw,
        uploaded_by=f"{actor.kind}:{actor.id}",
    )
    session.add(document)
    session.flush()
    record_audit(
        session,
        actor,
        "authorization.document_attached",
        "authorization",
        authorization.id,
        after={
            "document_id": document.id,
            "filename": document.filename,
            "sha256": document.sha256,
        },
    )
    return document


def authorization_documents(session: Session, authorization_id: str) -> list[AuthorizationDocument]:
    return list(
        session.scalars(
            select(AuthorizationDocument)
            .where(AuthorizationDocument.authorization_id == authorization_id)
            .order_by(AuthorizationDocument.id)
        )
    )


def get_document(session: Session, document_id: str) -> AuthorizationDocument:
    document = session.scalars(
        select(AuthorizationDocument)
        .where(AuthorizationDocument.id == document_id)
        .options(undefer(AuthorizationDocument.content))
    ).first()
    if document is None:
        raise NotFound("Document not found.")
    return document


def get_authorization(session: Session, authorization_id: str) -> Authorization:
    return get_or_404(session, Authorization, authorization_id, "Authorization")


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
