"""RQ jobs of the sandbox: thin, idempotent (a refill tops up to a level; a revoked
entitlement is not revoked twice)."""

from __future__ import annotations

from app.core.audit import SYSTEM
from app.core.queue import job_app_context as app_context
from app.core.vault import current_vault
from app.extensions import db
from app.sandbox import service
from app.supply.models import Product


def refill(product_id: str) -> None:
    with app_context(), db.transaction() as session:
        service.refill_codes(session, SYSTEM, current_vault(), session.get_one(Product, product_id))


def report_code_invalid(entitlement_id: str) -> None:
    with app_context(), db.transaction() as session:
        service.report_code_invalid(session, entitlement_id)
