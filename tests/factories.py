"""Build real rows through the service functions, and talk to the API like a partner would."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.accounts import service as accounts_service
from app.auth import service as auth_service
from app.auth.models import ApiClient
from app.core.audit import Actor
from app.core.ids import new_id
from app.core.money import Money
from app.core.vault import Vault, current_vault
from app.members import service as members_service
from app.members.models import Member
from app.orders import checkout
from app.orders.models import Order
from app.partners import listings as listings_service
from app.partners import service as partner_service
from app.partners.models import Listing, Partner
from app.supply import imports, products, suppliers
from app.supply.imports import CodeRow
from app.supply.models import Authorization, CodeBatch, Product, Supplier

TEST_ACTOR = Actor("system", "tests")


def partner_data(slug: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": slug,
        "name": f"Partner {slug}",
        "kind": "bank",
        "status": "active",
        "timezone": "Asia/Shanghai",
        "branding": {
            "display_name": f"{slug} mall",
            "logo_url": None,
            "primary_color": "#112233",
            "accent_color": "#445566",
            "tagline": None,
        },
        "points": {"unit_name": "积分", "rate": {"points": 100, "value": Money(100, "CNY")}},
    }
    data.update(overrides)
    return data


def make_partner(session: Session, slug: str, **overrides: Any) -> Partner:
    partner = partner_service.create_partner(session, TEST_ACTOR, partner_data(slug, **overrides))
    session.commit()
    return partner


@dataclass(frozen=True)
class Credentials:
    """Plain strings (they outlive the session that created them, unlike ORM rows)."""

    client_id: str
    secret: str
    partner_id: str | None

    @classmethod
    def of(cls, issued: auth_service.IssuedClient) -> Credentials:
        return cls(issued.client.id, issued.secret, issued.client.partner_id)

    def client(self, session: Session) -> ApiClient:
        return session.get_one(ApiClient, self.client_id)


def make_client(
    session: Session, partner: Partner | None, scopes: list[str] | None = None
) -> Credentials:
    issued = auth_service.create_client(
        session,
        TEST_ACTOR,
        kind="platform" if partner is None else "partner",
        partner_id=None if partner is None else partner.id,
        name="tests",
        scopes=scopes,
    )
    session.commit()
    return Credentials.of(issued)


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def request_token(http: FlaskClient, creds: Credentials, scope: str | None = None) -> Any:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    return http.post("/oauth/token", data=form, headers=basic_auth(creds.client_id, creds.secret))


@dataclass
class ApiUser:
    """A test client holding one bearer token."""

    http: FlaskClient
    creds: Credentials
    token: str

    @classmethod
    def login(cls, http: FlaskClient, creds: Credentials, scope: str | None = None) -> ApiUser:
        response = request_token(http, creds, scope)
        assert response.status_code == 200, response.get_json()
        return cls(http, creds, response.get_json()["access_token"])

    @property
    def partner_id(self) -> str | None:
        return self.creds.partner_id

    def basic_auth(self) -> dict[str, str]:
        return basic_auth(self.creds.client_id, self.creds.secret)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = self.headers(kwargs.pop("headers", None))
        return self.http.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.call("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.call("PUT", path, **kwargs)


# --- supply -------------------------------------------------------------------------------

PLAINTEXT_CODES: set[str] = set()  # every code the tests create; logs must never show one


def vault_for_tests() -> Vault:
    return current_vault()


def make_supplier(session: Session, name: str = "Test Supplier", **overrides: Any) -> Supplier:
    data = {
        "name": name,
        "status": "active",
        "credentials": {"merchant": "tests", "secret": f"secret-of-{name}"},
        **overrides,
    }
    supplier = suppliers.create_supplier(session, TEST_ACTOR, vault_for_tests(), data)
    session.commit()
    return supplier


def make_authorization(
    session: Session,
    supplier: Supplier,
    brand: str,
    *,
    valid_from: date | None = None,
    valid_until: date | None = None,
    **overrides: Any,
) -> Authorization:
    today = suppliers.platform_today()
    data = {
        "brand": brand,
        "grantor": f"{brand} Inc.",
        "scope_brands": [],
        "scope_categories": [],
        "region": "CN",
        "is_exclusive": False,
        "contract_ref": f"C-{brand}",
        "valid_from": valid_from or today - timedelta(days=30),
        "valid_until": valid_until or today + timedelta(days=365),
        **overrides,
    }
    authorization = suppliers.create_authorization(session, TEST_ACTOR, supplier, data)
    session.commit()
    return authorization


def make_product(
    session: Session,
    brand: str = "优酷",
    name: str | None = None,
    *,
    fulfillment_type: str = "card_key",
    supplier: Supplier | None = None,
    authorize: bool = True,
    **overrides: Any,
) -> Product:
    """A product with an offer (and, by default, a valid authorization for its brand)."""
    data = {
        "brand": brand,
        "name": name or f"{brand} VIP {new_id('x')[-6:]}",
        "category": "video",
        "fulfillment_type": fulfillment_type,
        "face_value": Money(2500),
        "validity_days": 31,
        "status": "active",
        "recharge_account_kind": "phone" if fulfillment_type == "direct_recharge" else None,
        **overrides,
    }
    product = products.create_product(session, TEST_ACTOR, data)
    if not product.is_bundle:
        supplier = supplier or make_supplier(session, f"Supplier {new_id('s')[-8:]}")
        products.create_offer(
            session,
            TEST_ACTOR,
            product,
            supplier,
            {"supplier_sku": "SKU-1", "cost": Money(2000), "priority": 10, "status": "active"},
        )
        if authorize:
            make_authorization(session, supplier, brand)
    session.commit()
    return product


def code_rows(count: int, prefix: str | None = None, **fields: Any) -> list[CodeRow]:
    prefix = prefix or new_id("c")[-10:].upper()
    rows = [
        CodeRow(i + 1, f"{prefix}-{i:06d}-K", fields.get("password"), fields.get("expires_at"))
        for i in range(count)
    ]
    PLAINTEXT_CODES.update(r.code for r in rows)
    return rows


def stock_codes(session: Session, product: Product, count: int, **fields: Any) -> CodeBatch:
    batch = imports.import_codes(
        session,
        TEST_ACTOR,
        vault_for_tests(),
        product,
        code_rows(count, **fields),
        offer_id=product.offers[0].id,
    )
    session.commit()
    return batch


# --- commerce -----------------------------------------------------------------------------


def make_listing(
    session: Session,
    partner: Partner,
    product: Product,
    points: int = 1000,
    cash_minor: int = 0,
    wholesale_minor: int = 2200,
    **overrides: Any,
) -> Listing:
    data = {
        "product_id": product.id,
        "price_points": points,
        "price_cash_minor": cash_minor,
        "wholesale_minor": wholesale_minor,
        **overrides,
    }
    listing = listings_service.create_listing(
        session, TEST_ACTOR, partner.id, product.id, listings_service.ListingTerms.of(data)
    )
    session.commit()
    return listing


def make_member(
    session: Session, partner: Partner, external_id: str, points: int = 0, **fields: Any
) -> Member:
    member, _ = members_service.upsert_member(
        session,
        TEST_ACTOR,
        partner.id,
        external_id,
        members_service.MemberChanges.of(fields),
        vault_for_tests(),
    )
    if points:
        members_service.grant_points(session, member, points, "test grant")
    session.commit()
    return member


def fund(
    session: Session, partner: Partner, amount_minor: int = 10_000_000, credit_minor: int = 0
) -> None:
    accounts_service.top_up(session, TEST_ACTOR, partner.id, amount_minor, "test funds")
    if credit_minor:
        accounts_service.set_credit_limit(session, TEST_ACTOR, partner.id, credit_minor)
    session.commit()


def sellable_card_key_listing(
    session: Session, partner: Partner, codes: int = 10, **listing: Any
) -> Listing:
    product = make_product(session, low_stock_threshold=None)
    if codes:
        stock_codes(session, product, codes)
    return make_listing(session, partner, product, **listing)


def place(
    session: Session, partner: Partner, member: Member, listing: Listing, quantity: int = 1
) -> Order:
    order = checkout.place_order(
        session,
        TEST_ACTOR,
        partner.id,
        checkout.PlaceOrder(
            member.external_id,
            (checkout.OrderLine(listing.id, quantity),),
            checkout.Payment(points=listing.price_points * quantity),
        ),
        vault=vault_for_tests(),
    )
    session.commit()
    return order
