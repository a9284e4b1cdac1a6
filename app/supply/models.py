"""The shared supply: suppliers and their authorizations, products (and bundles), offers,
card-key batches and codes, and per-partner channel allocations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin, utcnow
from app.core.money import PLATFORM_CURRENCY, Money

SUPPLIER_STATUSES = ("active", "suspended")
PRODUCT_STATUSES = ("active", "inactive")
OFFER_STATUSES = ("active", "paused")
FULFILLMENT_TYPES = ("card_key", "direct_recharge", "link")
ACCOUNT_KINDS = ("phone", "qq", "email", "account_id")
CATEGORIES = (
    "video",
    "music",
    "reading",
    "gaming",
    "education",
    "software",
    "lifestyle",
    "cloud",
    "fitness",
)
CODE_STATUSES = ("available", "reserved", "sold", "void")


class Supplier(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "suppliers"
    id_prefix = "sup"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    api_base_url: Mapped[str | None] = mapped_column(String(500))
    # Sealed JSON of the API credentials (app id, secret…); never returned by the API.
    credentials_key_id: Mapped[str | None] = mapped_column(String(40))
    credentials_blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # our prepaid balance with the supplier, as its API last reported it
    balance_minor: Mapped[int | None] = mapped_column(BigInteger)
    balance_checked_at: Mapped[datetime | None]
    low_balance_threshold_minor: Mapped[int | None] = mapped_column(BigInteger)
    is_balance_low: Mapped[bool] = mapped_column(Boolean, default=False)
    # the sandbox supplier answers in-process (app/fulfillment/suppliers/sandbox.py); it serves
    # sandbox partners only, and they are served by nothing else
    is_sandbox: Mapped[bool] = mapped_column(Boolean, default=False)

    authorizations: Mapped[list[Authorization]] = relationship(back_populates="supplier")


class Authorization(PublicIdMixin, TimestampMixin, Base):
    """A supplier's documented right to sell a brand's goods."""

    __tablename__ = "authorizations"
    id_prefix = "auz"

    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    brand: Mapped[str] = mapped_column(String(80), index=True)
    grantor: Mapped[str] = mapped_column(String(200))
    # Which of the brand's goods it covers: empty lists mean "all of the brand".
    scope_brands: Mapped[list[str]] = mapped_column(JSONType, default=list)
    scope_categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    region: Mapped[str] = mapped_column(String(60), default="CN")
    is_exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    contract_ref: Mapped[str] = mapped_column(String(120))
    revoked_at: Mapped[datetime | None]

    supplier: Mapped[Supplier] = relationship(back_populates="authorizations")

    def covers(self, brand: str, category: str) -> bool:
        brands = {b.lower() for b in [self.brand, *(self.scope_brands or [])]}
        if brand.lower() not in brands:
            return False
        return not self.scope_categories or category in self.scope_categories

    def is_valid_on(self, day: date) -> bool:
        return self.revoked_at is None and self.valid_from <= day <= self.valid_until


class AuthorizationDocument(PublicIdMixin, Base):
    """A scan of an authorization's contract or letter (PDF or image), kept with it for audits
    by brands and regulators."""

    __tablename__ = "authorization_documents"
    id_prefix = "doc"

    authorization_id: Mapped[str] = mapped_column(ForeignKey("authorizations.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(60))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    uploaded_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "products"
    id_prefix = "prd"

    brand: Mapped[str] = mapped_column(String(80), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    fulfillment_type: Mapped[str] = mapped_column(String(20))
    face_value_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    validity_days: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    # what a member reads: how to redeem it, and the terms it comes with, per locale
    instructions: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    terms: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    image_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="active")
    recharge_account_kind: Mapped[str | None] = mapped_column(String(20))
    is_bundle: Mapped[bool] = mapped_column(Boolean, default=False)
    # Direct recharge / link: units left to sell; None = unlimited. Card keys count codes.
    stock_capacity: Mapped[int | None] = mapped_column(Integer)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    is_low_stock: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept current by the authorization check: an offer of an active supplier holds a valid
    # authorization for the brand today. Catalog queries filter on it.
    is_authorized: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: a live product. A sandbox product (listed by sandbox partners only) behaves as its
    # name says: "standard", "out_of_stock", "code_reported_invalid" (app/sandbox)
    sandbox_behaviour: Mapped[str | None] = mapped_column(String(40))

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_behaviour is not None

    @property
    def face_value(self) -> Money:
        return Money(self.face_value_minor, self.currency)

    components: Mapped[list[BundleComponent]] = relationship(
        foreign_keys="BundleComponent.bundle_id",
        order_by="BundleComponent.position",
        cascade="all, delete-orphan",
    )
    offers: Mapped[list[Offer]] = relationship(back_populates="product", order_by="Offer.priority")


class BundleComponent(Base):
    __tablename__ = "bundle_components"

    bundle_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    component_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=0)

    component: Mapped[Product] = relationship(foreign_keys=[component_id])


class Offer(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "offers"
    id_prefix = "ofr"

    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    supplier_sku: Mapped[str] = mapped_column(String(120))
    cost_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower is tried first
    status: Mapped[str] = mapped_column(String(16), default="active")

    product: Mapped[Product] = relationship(back_populates="offers")
    supplier: Mapped[Supplier] = relationship()

    @property
    def cost(self) -> Money:
        return Money(self.cost_minor, self.currency)

    __table_args__ = (UniqueConstraint("supplier_id", "product_id", "supplier_sku"),)


class CodeBatch(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "code_batches"
    id_prefix = "cbt"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    offer_id: Mapped[str | None] = mapped_column(ForeignKey("offers.id"))
    # the authorization the offer's supplier held for these goods when they were imported
    authorization_id: Mapped[str | None] = mapped_column(ForeignKey("authorizations.id"))
    source_name: Mapped[str | None] = mapped_column(String(255))
    code_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    imported_by: Mapped[str] = mapped_column(String(80))
    voided_at: Mapped[datetime | None]


class Code(PublicIdMixin, Base):
    """One card key. Code and password are sealed by the vault; `fingerprint` (HMAC) keeps them
    unique; `last4` is what masked listings show."""

    __tablename__ = "codes"
    id_prefix = "cod"

    batch_id: Mapped[str] = mapped_column(ForeignKey("code_batches.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    # Channel stock: set while the code is held for one partner's allocation.
    allocation_id: Mapped[str | None] = mapped_column(ForeignKey("allocations.id"))
    status: Mapped[str] = mapped_column(String(16), default="available")
    key_id: Mapped[str] = mapped_column(String(40))
    code_blob: Mapped[bytes] = mapped_column(LargeBinary)
    password_blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    last4: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reserved_at: Mapped[datetime | None]
    reserved_for_partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))

    __table_args__ = (
        # The pick query's equality columns, then its ORDER BY (expires_at, id), so a pick is a
        # short index scan even with millions of codes. `allocation_id IS NULL` is not an
        # equality to the planner, hence its own index for picks inside an allocation.
        Index("ix_codes_pick", "product_id", "status", "expires_at", "id"),
        Index(
            "ix_codes_allocation_pick",
            "allocation_id",
            "status",
            "expires_at",
            "id",
            postgresql_where=text("allocation_id IS NOT NULL"),
            sqlite_where=text("allocation_id IS NOT NULL"),
        ),
        Index("ix_codes_key_id", "key_id"),
    )

    @property
    def masked(self) -> str:
        return "****-****-" + self.last4


class Allocation(PublicIdMixin, TimestampMixin, Base):
    """Channel stock: units of a product held for one partner."""

    __tablename__ = "allocations"
    id_prefix = "alc"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    is_exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    released_at: Mapped[datetime | None]

    # At most one active allocation of a product per partner: the order path reads it joined
    # to the listing, and two allocations created at once must not both stand.
    __table_args__ = (
        Index(
            "uq_allocations_active_partner_product",
            "partner_id",
            "product_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    def snapshot(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "partner_id": self.partner_id,
            "quantity": self.quantity,
            "is_exclusive": self.is_exclusive,
            "status": self.status,
        }
