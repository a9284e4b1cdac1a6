"""Platform endpoints for the shared supply (scope `platform`)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.core.http import accepts_multipart, max_body_bytes, request_actor
from app.core.pagination import Page, PageArgsSchema, page_schema
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
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(SupplierSchema))
def list_suppliers(args: dict[str, Any]) -> Any:
    return suppliers.list_suppliers(db.session(), args["limit"], args["cursor"])


@blp.route("/suppliers", methods=["POST"])
@requires("platform")
@blp.arguments(SupplierSchema())
@blp.response(201, SupplierSchema)
def create_supplier(data: dict[str, Any]) -> Any:
    return suppliers.create_supplier(db.session(), request_actor(), current_vault(), data)


@blp.route("/suppliers/<supplier_id>")
@requires("platform")
@blp.response(200, SupplierSchema)
def get_supplier(supplier_id: str) -> Any:
    return suppliers.get_supplier(db.session(), supplier_id)


@blp.route("/suppliers/<supplier_id>", methods=["PATCH"])
@requires("platform")
@blp.arguments(SupplierSchema(partial=True))
@blp.response(200, SupplierSchema)
def update_supplier(data: dict[str, Any], supplier_id: str) -> Any:
    session = db.session()
    supplier = suppliers.get_supplier(session, supplier_id)
    return suppliers.update_supplier(session, request_actor(), current_vault(), supplier, data)


@blp.route("/suppliers/<supplier_id>/authorizations", methods=["POST"])
@requires("platform")
@blp.arguments(AuthorizationSchema())
@blp.response(201, AuthorizationSchema)
def create_authorization(data: dict[str, Any], supplier_id: str) -> Any:
    session = db.session()
    supplier = suppliers.get_supplier(session, supplier_id)
    return suppliers.create_authorization(session, request_actor(), supplier, data)


@blp.route("/authorizations")
@requires("platform")
@blp.arguments(AuthorizationQuerySchema(), location="query")
@blp.response(200, page_schema(AuthorizationSchema))
def list_authorizations(args: dict[str, Any]) -> Any:
    """`?expiring_within_days=N`: the renewal worklist (valid today, lapsing within N days)."""
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
    session = db.session()
    authorization = suppliers.get_authorization(session, authorization_id)
    return suppliers.update_authorization(session, request_actor(), authorization, data)


# --- products and offers --------------------------------------------------------------


@blp.route("/products")
@requires("platform")
@blp.arguments(ProductQuerySchema(), location="query")
@blp.response(200, page_schema(ProductSchema))
def list_products(args: dict[str, Any]) -> Any:
    limit, cursor = args.pop("limit"), args.pop("cursor")
    return products.list_products(db.session(), limit, cursor, **args)


@blp.route("/products", methods=["POST"])
@requires("platform")
@blp.arguments(ProductSchema())
@blp.response(201, ProductSchema)
def create_product(data: dict[str, Any]) -> Any:
    return products.create_product(db.session(), request_actor(), data)


@blp.route("/products/<product_id>")
@requires("platform")
@blp.response(200, ProductSchema)
def get_product(product_id: str) -> Any:
    return products.get_product(db.session(), product_id)


@blp.route("/products/<product_id>", methods=["PATCH"])
@requires("platform")
@blp.arguments(ProductSchema(partial=True))
@blp.response(200, ProductSchema)
def update_product(data: dict[str, Any], product_id: str) -> Any:
    session = db.session()
    return products.update_product(
        session, request_actor(), products.get_product(session, product_id), data
    )


@blp.route("/products/<product_id>/offers")
@requires("platform")
@blp.response(200, OfferSchema(many=True))
def list_offers(product_id: str) -> Any:
    return products.get_product(db.session(), product_id).offers


@blp.route("/products/<product_id>/offers", methods=["POST"])
@requires("platform")
@blp.arguments(OfferSchema())
@blp.response(201, OfferSchema)
def create_offer(data: dict[str, Any], product_id: str) -> Any:
    session = db.session()
    product = products.get_product(session, product_id)
    supplier = suppliers.get_supplier(session, data["supplier_id"])
    return products.create_offer(session, request_actor(), product, supplier, data)


@blp.route("/products/<product_id>/offers/<offer_id>", methods=["PATCH"])
@requires("platform")
@blp.arguments(OfferUpdateSchema(partial=True))
@blp.response(200, OfferSchema)
def update_offer(data: dict[str, Any], product_id: str, offer_id: str) -> Any:
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
def import_code_batch(args: dict[str, Any], files: dict[str, Any], product_id: str) -> Any:
    """Upload a CSV (`code[,password][,expires_at]`) as the multipart field `file`. All or
    nothing: any bad or duplicate line rejects the batch and every such line is named."""
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
    page = imports.list_batches(db.session(), args["limit"], args["cursor"], args["product"])
    return _with_counts(page)


@blp.route("/code-batches/<batch_id>")
@requires("platform")
@blp.response(200, CodeBatchSchema)
def get_code_batch(batch_id: str) -> Any:
    batch = imports.get_batch(db.session(), batch_id)
    return _with_counts(Page([batch], None)).data[0]


@blp.route("/code-batches/<batch_id>/void", methods=["POST"])
@requires("platform")
@blp.response(200, CodeBatchSchema)
def void_code_batch(batch_id: str) -> Any:
    session = db.session()
    batch = imports.void_batch(session, request_actor(), imports.get_batch(session, batch_id))
    return _with_counts(Page([batch], None)).data[0]


# --- stock and allocations --------------------------------------------------------------


@blp.route("/products/<product_id>/stock")
@requires("platform")
@blp.response(200, StockSchema)
def get_stock(product_id: str) -> Any:
    session = db.session()
    return stock.stock_summary(session, products.get_product(session, product_id))


@blp.route("/products/<product_id>/allocations")
@requires("platform")
@blp.response(200, AllocationSchema(many=True))
def list_allocations(product_id: str) -> Any:
    session = db.session()
    products.get_product(session, product_id)
    return stock.list_allocations(session, product_id)


@blp.route("/products/<product_id>/allocations", methods=["POST"])
@requires("platform")
@blp.arguments(AllocationCreateSchema())
@blp.response(201, AllocationSchema)
def create_allocation(data: dict[str, Any], product_id: str) -> Any:
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
def release_allocation(allocation_id: str) -> Any:
    session = db.session()
    return stock.release_allocation(
        session, request_actor(), stock.get_allocation(session, allocation_id)
    )
