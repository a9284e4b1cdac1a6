"""Platform endpoints for the shared supply (scope `platform`)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.core.http import accepts_multipart, max_body_bytes, request_actor
from app.core.openapi import raises
from app.core.pagination import LiveOrSandboxArgsSchema, Page, page_schema
from app.core.principal import requires
from app.core.vault import current_vault
from app.extensions import db
from app.supply import imports, products, stock, suppliers
from app.supply.schemas import (
    AllocationCreateSchema,
    AllocationSchema,
    AuthorizationQuerySchema,
    AuthorizationSchema,
    AuthorizationUpdateSchema,
    BatchQuerySchema,
    CodeBatchSchema,
    CodeImportArgsSchema,
    CodeImportFormSchema,
    OfferSchema,
    OfferUpdateSchema,
    ProductQuerySchema,
    ProductSchema,
    StockSchema,
    SupplierSchema,
)

blp = Blueprint(
    "platform_supply",
    __name__,
    url_prefix="/api/v1/platform",
    description="Platform: suppliers, authorizations, products, offers, card keys, stock",
)


# --- suppliers and authorizations -----------------------------------------------------


@blp.route("/suppliers")
@requires("platform")
@blp.arguments(LiveOrSandboxArgsSchema(), location="query")
@blp.response(200, page_schema(SupplierSchema))
def list_suppliers(args: dict[str, Any]) -> Any:
    """List suppliers.

    Every live supplier (`sandbox=true`: the sandbox supplier), with its status and balance as
    last seen.
    """
    return suppliers.list_suppliers(db.session(), args["limit"], args["cursor"], args["sandbox"])


@blp.route("/suppliers", methods=["POST"])
@requires("platform")
@blp.arguments(SupplierSchema())
@blp.response(201, SupplierSchema)
@raises("already_exists")
def create_supplier(data: dict[str, Any]) -> Any:
    """Create a supplier.

    A supplier of card keys or direct recharges; API credentials are sealed in the vault.
    """
    return suppliers.create_supplier(db.session(), request_actor(), current_vault(), data)


@blp.route("/suppliers/<supplier_id>")
@requires("platform")
@blp.response(200, SupplierSchema)
def get_supplier(supplier_id: str) -> Any:
    """Read a supplier.

    One supplier (credentials never shown).
    """
    return suppliers.get_supplier(db.session(), supplier_id)


@blp.route("/suppliers/<supplier_id>", methods=["PATCH"])
@requires("platform")
@blp.arguments(SupplierSchema(partial=True))
@blp.response(200, SupplierSchema)
@raises("supply_conflict")
def update_supplier(data: dict[str, Any], supplier_id: str) -> Any:
    """Update a supplier.

    Name, status, API settings or credentials.
    """
    session = db.session()
    supplier = suppliers.get_supplier(session, supplier_id)
    return suppliers.update_supplier(session, request_actor(), current_vault(), supplier, data)


@blp.route("/suppliers/<supplier_id>/authorizations", methods=["POST"])
@requires("platform")
@blp.arguments(AuthorizationSchema())
@blp.response(201, AuthorizationSchema)
def create_authorization(data: dict[str, Any], supplier_id: str) -> Any:
    """Record a supply authorization.

    The supplier's licence to resell a brand in a region, for a period, with its contract
    reference.
    """
    session = db.session()
    supplier = suppliers.get_supplier(session, supplier_id)
    return suppliers.create_authorization(session, request_actor(), supplier, data)


@blp.route("/authorizations")
@requires("platform")
@blp.arguments(AuthorizationQuerySchema(), location="query")
@blp.response(200, page_schema(AuthorizationSchema))
def list_authorizations(args: dict[str, Any]) -> Any:
    """List supply authorizations.

    `?expiring_within_days=N`: the renewal worklist (valid today, lapsing within N days).
    """
    return suppliers.list_authorizations(
        db.session(),
        args["limit"],
        args["cursor"],
        supplier_id=args["supplier"],
        brand=args["brand"],
        expiring_within_days=args["expiring_within_days"],
    )


@blp.route("/authorizations/<authorization_id>", methods=["PATCH"])
@requires("platform")
@blp.arguments(AuthorizationUpdateSchema(partial=True))
@blp.response(200, AuthorizationSchema)
def update_authorization(data: dict[str, Any], authorization_id: str) -> Any:
    """Update a supply authorization.

    Validity, region or status of one authorization.
    """
    session = db.session()
    authorization = suppliers.get_authorization(session, authorization_id)
    return suppliers.update_authorization(session, request_actor(), authorization, data)


# --- products and offers --------------------------------------------------------------


@blp.route("/products")
@requires("platform")
@blp.arguments(ProductQuerySchema(), location="query")
@blp.response(200, page_schema(ProductSchema))
def list_products(args: dict[str, Any]) -> Any:
    """List products.

    The shared catalog of digital goods, newest first (`sandbox=true`: the sandbox catalog).
    """
    limit, cursor = args.pop("limit"), args.pop("cursor")
    return products.list_products(db.session(), limit, cursor, **args)


@blp.route("/products", methods=["POST"])
@requires("platform")
@blp.arguments(ProductSchema())
@blp.response(201, ProductSchema)
@raises("already_exists")
def create_product(data: dict[str, Any]) -> Any:
    """Create a product.

    A card key, direct recharge, link or bundle product with its face value, validity and
    redemption details.
    """
    return products.create_product(db.session(), request_actor(), data)


@blp.route("/products/<product_id>")
@requires("platform")
@blp.response(200, ProductSchema)
def get_product(product_id: str) -> Any:
    """Read a product.

    One product with its bundle components.
    """
    return products.get_product(db.session(), product_id)


@blp.route("/products/<product_id>", methods=["PATCH"])
@requires("platform")
@blp.arguments(ProductSchema(partial=True))
@blp.response(200, ProductSchema)
def update_product(data: dict[str, Any], product_id: str) -> Any:
    """Update a product.

    Name, validity, status or redemption details of a product.
    """
    session = db.session()
    return products.update_product(
        session, request_actor(), products.get_product(session, product_id), data
    )


@blp.route("/products/<product_id>/offers")
@requires("platform")
@blp.response(200, OfferSchema(many=True))
def list_offers(product_id: str) -> Any:
    """List a product's offers.

    Which suppliers sell the product, at what cost and priority.
    """
    return products.get_product(db.session(), product_id).offers


@blp.route("/products/<product_id>/offers", methods=["POST"])
@requires("platform")
@blp.arguments(OfferSchema())
@blp.response(201, OfferSchema)
@raises("already_exists", "supplier_credentials_missing")
def create_offer(data: dict[str, Any], product_id: str) -> Any:
    """Add a supplier offer to a product.

    A supplier's cost and priority for the product; direct recharges fail over between offers by
    priority.
    """
    session = db.session()
    product = products.get_product(session, product_id)
    supplier = suppliers.get_supplier(session, data["supplier_id"])
    return products.create_offer(session, request_actor(), product, supplier, data)


@blp.route("/products/<product_id>/offers/<offer_id>", methods=["PATCH"])
@requires("platform")
@blp.arguments(OfferUpdateSchema(partial=True))
@blp.response(200, OfferSchema)
@raises("supplier_credentials_missing")
def update_offer(data: dict[str, Any], product_id: str, offer_id: str) -> Any:
    """Update an offer.

    Cost, priority or status of one offer.
    """
    session = db.session()
    return products.update_offer(
        session, request_actor(), products.get_offer(session, product_id, offer_id), data
    )


# --- card keys --------------------------------------------------------------------------


def _with_counts(page: Page[Any]) -> Page[Any]:
    counts = imports.batch_counts(db.session(), [b.id for b in page.data])
    for batch in page.data:
        batch.counts = counts[batch.id]
    return page


@blp.route("/products/<product_id>/code-batches", methods=["POST"])
@accepts_multipart
@requires("platform")
@max_body_bytes(imports.MAX_IMPORT_BYTES + 64 * 1024)
@blp.arguments(CodeImportArgsSchema(), location="query")
@blp.arguments(CodeImportFormSchema(), location="files")
@blp.response(201, CodeBatchSchema)
@raises("code_import_rejected", "payload_too_large", "supply_conflict")
def import_code_batch(args: dict[str, Any], files: dict[str, Any], product_id: str) -> Any:
    """Import card keys.

    Upload a CSV (`code[,password][,expires_at]`) as the multipart field `file`. All or nothing:
    any bad or duplicate line rejects the batch and every such line is named.
    """
    session = db.session()
    product = products.get_product(session, product_id)
    upload = files["file"]
    rows = imports.parse_code_csv(upload.read())
    batch = imports.import_codes(
        session, request_actor(), current_vault(), product, rows, upload.filename, args["offer"]
    )
    batch.counts = imports.batch_counts(session, [batch.id])[batch.id]  # type: ignore[attr-defined]
    return batch


@blp.route("/code-batches")
@requires("platform")
@blp.arguments(BatchQuerySchema(), location="query")
@blp.response(200, page_schema(CodeBatchSchema))
def list_code_batches(args: dict[str, Any]) -> Any:
    """List card-key batches.

    Imported batches with their counts (codes never shown).
    """
    page = imports.list_batches(db.session(), args["limit"], args["cursor"], args["product"])
    return _with_counts(page)


@blp.route("/code-batches/<batch_id>")
@requires("platform")
@blp.response(200, CodeBatchSchema)
def get_code_batch(batch_id: str) -> Any:
    """Read a card-key batch.

    One batch with its counts by status.
    """
    batch = imports.get_batch(db.session(), batch_id)
    return _with_counts(Page([batch], None)).data[0]


@blp.route("/code-batches/<batch_id>/void", methods=["POST"])
@requires("platform")
@blp.response(200, CodeBatchSchema)
def void_code_batch(batch_id: str) -> Any:
    """Void a card-key batch.

    Its unsold codes can no longer be sold; sold ones stay with their members.
    """
    session = db.session()
    batch = imports.void_batch(session, request_actor(), imports.get_batch(session, batch_id))
    return _with_counts(Page([batch], None)).data[0]


# --- stock and allocations --------------------------------------------------------------


@blp.route("/products/<product_id>/stock")
@requires("platform")
@blp.response(200, StockSchema)
def get_stock(product_id: str) -> Any:
    """Read a product's stock.

    Available, reserved and sold card keys, and direct-recharge capacity.
    """
    session = db.session()
    return stock.stock_summary(session, products.get_product(session, product_id))


@blp.route("/products/<product_id>/allocations")
@requires("platform")
@blp.response(200, AllocationSchema(many=True))
def list_allocations(product_id: str) -> Any:
    """List a product's allocations.

    Stock reserved for (or shared with) partners.
    """
    session = db.session()
    products.get_product(session, product_id)
    return stock.list_allocations(session, product_id)


@blp.route("/products/<product_id>/allocations", methods=["POST"])
@requires("platform")
@blp.arguments(AllocationCreateSchema())
@blp.response(201, AllocationSchema)
@raises("supply_conflict", "out_of_stock")
def create_allocation(data: dict[str, Any], product_id: str) -> Any:
    """Allocate stock to a partner.

    Reserve a quantity of the product for one partner, exclusively or not.
    """
    session = db.session()
    product = products.get_product(session, product_id)
    return stock.create_allocation(
        session,
        request_actor(),
        product,
        data["partner_id"],
        data["quantity"],
        data["is_exclusive"],
    )


@blp.route("/allocations/<allocation_id>/release", methods=["POST"])
@requires("platform")
@blp.response(200, AllocationSchema)
@raises("supply_conflict")
def release_allocation(allocation_id: str) -> Any:
    """Release an allocation.

    Its unsold stock returns to the shared pool.
    """
    session = db.session()
    return stock.release_allocation(
        session, request_actor(), stock.get_allocation(session, allocation_id)
    )
