"""Sandbox mode: a partner's test-mode twin, on which its sandbox API clients act.

The twin is a partner of its own (`sandbox_of_id` names the live one), so tenancy keeps its
members, orders, entitlements, webhooks and account out of every live list, export and invoice
without a single extra filter in the domains. It lists only sandbox products, which only the
in-process sandbox supplier fulfils (app/fulfillment/suppliers/sandbox.py): no test order
reaches a real supplier, takes a real code or is billed. Magic values (docs/sandbox.md) make
the failures an integrator must handle happen on demand.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.service import account_for, top_up
from app.core.audit import SYSTEM, Actor, record_audit
from app.core.errors import Conflict
from app.core.money import Money
from app.core.queue import enqueue_after_commit
from app.core.vault import Vault
from app.entitlements import service as entitlements
from app.entitlements.models import Entitlement
from app.members.models import Member
from app.partners.listings import ListingTerms, create_listing
from app.partners.models import Listing, Partner
from app.supply import imports, products, suppliers
from app.supply.models import Code, Offer, Product, Supplier

SUPPLIER_NAME = "Quanyi 沙箱供应商 Sandbox Supplier"
BRAND = "Quanyi 沙箱 Sandbox"
BEHAVIOURS = ("standard", "out_of_stock", "code_reported_invalid")
INVALID_REASON = "code_reported_invalid"


@dataclass(frozen=True)
class SandboxProduct:
    name: str
    category: str
    fulfillment_type: str
    face_value_minor: int
    account_kind: str | None = None
    behaviour: str = "standard"
    sku: str = "SANDBOX"


CATALOG = (
    SandboxProduct("沙箱·视频会员月卡 Sandbox video month (card key)", "video", "card_key", 2500),
    SandboxProduct(
        "沙箱·音乐会员直充 Sandbox music recharge (direct)",
        "music",
        "direct_recharge",
        1500,
        account_kind="phone",
    ),
    SandboxProduct(
        "沙箱·阅读领取链接 Sandbox reading (link)", "reading", "link", 1900, sku="LINK-SANDBOX"
    ),
    SandboxProduct(
        "沙箱·已售罄 Sandbox sold out (card key)",
        "video",
        "card_key",
        2500,
        behaviour="out_of_stock",
    ),
    SandboxProduct(
        "沙箱·卡密失效 Sandbox code reported invalid (card key)",
        "video",
        "card_key",
        2500,
        behaviour=INVALID_REASON,
    ),
)
# test codes are topped up to REFILL_TO whenever fewer than REFILL_BELOW are left
REFILL_BELOW, REFILL_TO = 50, 200
# the twin's account is topped up to this much test money on every provisioning
TEST_MONEY_MINOR = 100_000_000  # ¥1,000,000
ALWAYS = (date(2000, 1, 1), date(2099, 12, 31))
JOBS = "app.sandbox.jobs"


class NotALivePartner(Conflict):
    code = "sandbox_of_sandbox"


def twin_of(session: Session, partner: Partner) -> Partner | None:
    return session.scalars(select(Partner).where(Partner.sandbox_of_id == partner.id)).first()


def provision(session: Session, actor: Actor, vault: Vault, live: Partner) -> Partner:
    """The live partner's sandbox twin, created on first call with the sandbox catalog listed
    at the live partner's points rate; every call tops up its test money and test codes.
    Idempotent: run it again to reset nothing but to refill."""
    if live.is_sandbox:
        raise NotALivePartner("A sandbox partner has no sandbox of its own.")
    listed = sandbox_supply(session, actor, vault)
    twin = twin_of(session, live)
    if twin is None:
        twin = Partner(
            slug=f"{live.slug[:52]}-sandbox",
            name=f"{live.name} (沙箱 sandbox)",
            kind=live.kind,
            branding=dict(live.branding or {}),
            points_unit_name=live.points_unit_name,
            points_rate_points=live.points_rate_points,
            points_rate_value_minor=live.points_rate_value_minor,
            points_rate_currency=live.points_rate_currency,
            timezone=live.timezone,
            region=live.region,
            sandbox_of_id=live.id,
        )
        session.add(twin)
        session.flush()
        record_audit(
            session,
            actor,
            "partner.sandbox_created",
            "partner",
            twin.id,
            partner_id=twin.id,
            after=twin.snapshot(),
        )
    have = set(session.scalars(select(Listing.product_id).where(Listing.partner_id == twin.id)))
    for product in listed:
        if product.id not in have:
            points = product.face_value_minor * twin.points_rate_points
            create_listing(
                session,
                actor,
                twin.id,
                product.id,
                ListingTerms(
                    price_points=max(1, points // twin.points_rate_value_minor),
                    wholesale_minor=product.face_value_minor * 9 // 10,
                ),
            )
    balance = account_for(session, twin.id, for_update=True).balance_minor
    if balance < TEST_MONEY_MINOR:
        top_up(session, actor, twin.id, TEST_MONEY_MINOR - balance, "sandbox test money")
    return twin


def sandbox_supply(session: Session, actor: Actor, vault: Vault) -> list[Product]:
    """The sandbox supplier, its authorization and the sandbox catalog (found by name when they
    exist), with test codes topped up."""
    supplier = session.scalars(select(Supplier).where(Supplier.is_sandbox.is_(True))).first()
    if supplier is None:
        supplier = suppliers.create_supplier(
            session,
            actor,
            vault,
            {"name": SUPPLIER_NAME, "status": "active", "is_sandbox": True},
        )
        suppliers.create_authorization(
            session,
            actor,
            supplier,
            {
                "brand": BRAND,
                "grantor": "Quanyi",
                "valid_from": ALWAYS[0],
                "valid_until": ALWAYS[1],
                "contract_ref": "SANDBOX",
                "region": suppliers.GLOBAL_REGION,
            },
        )
    listed = []
    for spec in CATALOG:
        product = session.scalars(
            select(Product).where(Product.brand == BRAND, Product.name == spec.name)
        ).first()
        if product is None:
            product = _create_product(session, actor, supplier, spec)
        refill_codes(session, actor, vault, product)
        listed.append(product)
    return listed


def _create_product(
    session: Session, actor: Actor, supplier: Supplier, spec: SandboxProduct
) -> Product:
    product = products.create_product(
        session,
        actor,
        {
            "brand": BRAND,
            "name": spec.name,
            "category": spec.category,
            "fulfillment_type": spec.fulfillment_type,
            "face_value": Money(spec.face_value_minor),
            "validity_days": 31,
            "status": "active",
            "recharge_account_kind": spec.account_kind,
            "description": "沙箱测试商品，不产生真实交易。Sandbox: nothing real happens.",
            "instructions": {
                "zh-CN": "沙箱商品：卡密、充值与链接均为测试数据，无法在真实平台使用。",
                "en": "Sandbox product: its codes, recharges and links are test data only.",
            },
            "terms": {"zh-CN": "仅供接口联调。", "en": "For integration testing only."},
        },
    )
    product.sandbox_behaviour = spec.behaviour
    products.create_offer(
        session,
        actor,
        product,
        supplier,
        {"supplier_sku": spec.sku, "cost": Money(0), "priority": 10, "status": "active"},
    )
    return product


def refill_codes(session: Session, actor: Actor, vault: Vault, product: Product) -> int:
    """Top a sandbox card-key product's test codes up (the sold-out one stays empty); returns
    how many were added."""
    if product.fulfillment_type != "card_key" or product.sandbox_behaviour in (
        None,
        "out_of_stock",
    ):
        return 0
    available = session.scalar(
        select(func.count())
        .select_from(Code)
        .where(Code.product_id == product.id, Code.status == "available")
    )
    if (available or 0) >= REFILL_BELOW:
        return 0
    offer_id = session.scalars(select(Offer.id).where(Offer.product_id == product.id)).first()
    prefix = "INVALID" if product.sandbox_behaviour == INVALID_REASON else "TEST"
    rows = [
        imports.CodeRow(line, f"{prefix}-{secrets.token_hex(6).upper()}", None, None)
        for line in range(1, REFILL_TO - (available or 0) + 1)
    ]
    imports.import_codes(session, actor, vault, product, rows, "sandbox", offer_id)
    return len(rows)


@entitlements.issued.connect
def _on_issued(entitlement: Entitlement, *, session: Session, product: Product) -> None:
    """After a sandbox unit is delivered: its test codes are topped up, and a code of the
    "reported invalid" product is revoked as its supplier would report it (jobs, after
    commit)."""
    if product.sandbox_behaviour is None or product.fulfillment_type != "card_key":
        return
    enqueue_after_commit(session, f"{JOBS}.refill", product.id)
    if product.sandbox_behaviour == INVALID_REASON:
        enqueue_after_commit(session, f"{JOBS}.report_code_invalid", entitlement.id)


def report_code_invalid(session: Session, entitlement_id: str) -> bool:
    entitlement = session.scalars(
        select(Entitlement).where(Entitlement.id == entitlement_id).with_for_update()
    ).first()
    if entitlement is None:
        return False
    member = session.get_one(Member, entitlement.member_id)
    return entitlements.revoke(session, SYSTEM, entitlement, member, INVALID_REASON)
