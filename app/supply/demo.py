"""Demo supply for `flask demo seed`: realistic suppliers, authorizations, 24 products across
12 brands, all three fulfillment types, two bundles and generated demo codes. Idempotent: rows
are found by their natural keys (supplier name, brand + product name) and never duplicated."""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.audit import Actor
from app.core.money import Money
from app.core.vault import Vault
from app.supply import imports, products, suppliers
from app.supply.models import Code, Offer, Product, Supplier

SUPPLIERS = [
    {
        "name": "星河数字权益 Xinghe Digital",
        "contact_name": "王敏",
        "contact_email": "ops@xinghe.example",
    },
    {
        "name": "云途卡券 Yuntu Vouchers",
        "contact_name": "李强",
        "contact_email": "bd@yuntu.example",
    },
]
# supplier index, brand, grantor, categories
AUTHORIZATIONS = [
    (0, "优酷", "阿里巴巴文化娱乐", ["video"]),
    (0, "腾讯视频", "腾讯", ["video"]),
    (0, "爱奇艺", "爱奇艺", ["video"]),
    (0, "哔哩哔哩", "哔哩哔哩", ["video"]),
    (0, "网易云音乐", "网易", ["music"]),
    (0, "QQ音乐", "腾讯音乐", ["music"]),
    (1, "百度网盘", "百度", ["cloud"]),
    (1, "Keep", "Keep", ["fitness"]),
    (1, "WPS", "金山办公", ["software"]),
    (1, "喜马拉雅", "喜马拉雅", ["reading"]),
    (1, "腾讯视频", "腾讯", ["video"]),
    (1, "微信读书", "腾讯", ["reading"]),
]
# brand, name, category, fulfillment, face value (fen), validity days, account kind
# how a member redeems each kind of product, and the terms every demo product comes with
INSTRUCTIONS = {
    "card_key": lambda brand: {
        "zh-CN": f"在“我的权益”中查看卡密，打开{brand} App →“我的”→“兑换码”，输入卡密即可激活。",
        "en": f"Reveal the code under My entitlements, then in the {brand} app go to"
        " Me → Redeem code and enter it.",
    },
    "direct_recharge": lambda brand: {
        "zh-CN": f"充值到下单时填写的{brand}账号，通常几分钟内到账，无需其他操作。",
        "en": f"Credited to the {brand} account entered at checkout, usually within minutes.",
    },
    "link": lambda brand: {
        "zh-CN": "在“我的权益”中打开领取链接，按页面提示领取。",
        "en": "Open the claim link under My entitlements and follow the page.",
    },
}
TERMS = {
    "zh-CN": "虚拟商品，发放后不支持退换；请在有效期内使用。",
    "en": "Digital goods: no returns once delivered; use within the validity period.",
}

PRODUCTS = [
    ("优酷", "优酷VIP月卡", "video", "card_key", 2500, 31, None),
    ("优酷", "优酷VIP季卡", "video", "card_key", 6800, 92, None),
    ("优酷", "优酷VIP年卡", "video", "card_key", 19800, 366, None),
    ("腾讯视频", "腾讯视频VIP月卡", "video", "card_key", 3000, 31, None),
    ("腾讯视频", "腾讯视频VIP月卡(直充)", "video", "direct_recharge", 3000, 31, "qq"),
    ("腾讯视频", "腾讯视频VIP年卡(直充)", "video", "direct_recharge", 25800, 366, "qq"),
    ("爱奇艺", "爱奇艺黄金VIP月卡", "video", "card_key", 2500, 31, None),
    ("爱奇艺", "爱奇艺黄金VIP季卡(直充)", "video", "direct_recharge", 6800, 92, "phone"),
    ("哔哩哔哩", "哔哩哔哩大会员月卡", "video", "card_key", 2500, 31, None),
    ("哔哩哔哩", "哔哩哔哩大会员年卡(直充)", "video", "direct_recharge", 16800, 366, "account_id"),
    ("网易云音乐", "网易云音乐黑胶VIP月卡", "music", "card_key", 1500, 31, None),
    ("网易云音乐", "网易云音乐黑胶VIP年卡(直充)", "music", "direct_recharge", 15800, 366, "phone"),
    ("QQ音乐", "QQ音乐绿钻豪华版月卡", "music", "card_key", 1500, 31, None),
    ("QQ音乐", "QQ音乐绿钻豪华版(直充)", "music", "direct_recharge", 1500, 31, "qq"),
    ("百度网盘", "百度网盘超级会员月卡", "cloud", "card_key", 3000, 31, None),
    ("百度网盘", "百度网盘超级会员季卡(直充)", "cloud", "direct_recharge", 8800, 92, "phone"),
    ("Keep", "Keep会员月卡", "fitness", "card_key", 1900, 31, None),
    ("Keep", "Keep会员体验链接", "fitness", "link", 0, 7, None),
    ("WPS", "WPS超级会员月卡", "software", "card_key", 2500, 31, None),
    ("WPS", "WPS超级会员年卡(直充)", "software", "direct_recharge", 17900, 366, "phone"),
    ("喜马拉雅", "喜马拉雅VIP月卡", "reading", "card_key", 2500, 31, None),
    ("微信读书", "微信读书无限卡月卡(链接)", "reading", "link", 1900, 31, None),
]
BUNDLES = [
    ("权益组合", "影音双享包(优酷+网易云)", "video", ["优酷VIP月卡", "网易云音乐黑胶VIP月卡"]),
    ("权益组合", "学习充电包(喜马拉雅+WPS)", "education", ["喜马拉雅VIP月卡", "WPS超级会员月卡"]),
]
DEMO_CODES_PER_PRODUCT = 40


def _demo_codes(product: Product) -> list[imports.CodeRow]:
    """Deterministic per product, so seeding twice finds them already in the vault."""
    rows = []
    for i in range(DEMO_CODES_PER_PRODUCT):
        digest = hashlib.sha256(
            f"quanyi-demo:{product.brand}:{product.name}:{i}".encode()
        ).hexdigest()
        code = "-".join(digest[j : j + 4].upper() for j in range(0, 16, 4))
        rows.append(imports.CodeRow(i + 1, code, digest[16:22] if i % 2 else None, None))
    return rows


def _find_product(session: Session, brand: str, name: str) -> Product | None:
    return session.scalars(
        select(Product).where(Product.brand == brand, Product.name == name)
    ).first()


def seed_supply(
    session: Session, actor: Actor, vault: Vault, today: date, sim_url: str
) -> dict[str, int]:
    """`sim_url`: where the demo suppliers' API lives (the simulator mounted in embedded mode)."""
    created = {"suppliers": 0, "products": 0, "code_batches": 0}
    seeded: list[Supplier] = []
    for data in SUPPLIERS:
        supplier = session.scalars(select(Supplier).where(Supplier.name == data["name"])).first()
        if supplier is None:
            supplier = suppliers.create_supplier(
                session,
                actor,
                vault,
                {
                    **data,
                    "api_base_url": sim_url,
                    "status": "active",
                    "credentials": {"merchant": "quanyi-demo", "secret": "demo-secret"},
                },
            )
            created["suppliers"] += 1
            for index, brand, grantor, categories in AUTHORIZATIONS:
                if SUPPLIERS[index] is data:
                    suppliers.create_authorization(
                        session,
                        actor,
                        supplier,
                        {
                            "brand": brand,
                            "grantor": grantor,
                            "scope_categories": categories,
                            "valid_from": date(today.year, 1, 1),
                            "valid_until": date(today.year + 1, 12, 31),
                            "contract_ref": f"DEMO-{today.year}-{brand}",
                            "region": "CN",
                        },
                    )
        seeded.append(supplier)
    for brand, name, category, kind, face_minor, days, account_kind in PRODUCTS:
        product = _find_product(session, brand, name)
        if product is None:
            product = products.create_product(
                session,
                actor,
                {
                    "brand": brand,
                    "name": name,
                    "category": category,
                    "fulfillment_type": kind,
                    "face_value": Money(face_minor),
                    "validity_days": days,
                    "status": "active",
                    "recharge_account_kind": account_kind,
                    "low_stock_threshold": 5 if kind == "card_key" else None,
                    "description": f"{name}，官方授权渠道，自动发货。",
                    "instructions": INSTRUCTIONS[kind](brand),
                    "terms": TERMS,
                },
            )
            created["products"] += 1
            for priority, supplier in enumerate(seeded):
                if any(
                    brand == b and SUPPLIERS[i]["name"] == supplier.name
                    for i, b, _, _ in AUTHORIZATIONS
                ):
                    products.create_offer(
                        session,
                        actor,
                        product,
                        supplier,
                        {
                            "supplier_sku": f"SKU-{product.id[-8:]}-{priority}",
                            "cost": Money(face_minor * 85 // 100),
                            "priority": (priority + 1) * 10,
                            "status": "active",
                        },
                    )
        has_codes = session.scalar(
            select(func.count()).select_from(Code).where(Code.product_id == product.id)
        )
        if kind == "card_key" and not has_codes:
            session.flush()
            offer = session.scalars(
                select(Offer).where(Offer.product_id == product.id).order_by(Offer.priority)
            ).first()
            imports.import_codes(
                session,
                actor,
                vault,
                product,
                _demo_codes(product),
                "demo-seed",
                offer.id if offer else None,
            )
            created["code_batches"] += 1
    for brand, name, category, parts in BUNDLES:
        if _find_product(session, brand, name) is None:
            components = [
                {
                    "component_id": session.scalars(
                        select(Product.id).where(Product.name == part)
                    ).one(),
                    "quantity": 1,
                }
                for part in parts
            ]
            products.create_product(
                session,
                actor,
                {
                    "brand": brand,
                    "name": name,
                    "category": category,
                    "fulfillment_type": "card_key",
                    "face_value": Money(4000),
                    "validity_days": 31,
                    "status": "active",
                    "components": components,
                    "description": "组合权益，各项分别发放。",
                    "instructions": {
                        "zh-CN": "各项权益分别发放，在“我的权益”中逐项查看与使用。",
                        "en": "Each part is delivered on its own; use each from My entitlements.",
                    },
                    "terms": TERMS,
                },
            )
            created["products"] += 1
    suppliers.refresh_availability(session, actor, today)
    return created
