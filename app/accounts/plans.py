"""Billing plans: what a partner pays on top of wholesale. A partner without a plan row pays no
fees and 6 % VAT, with months counted in Asia/Shanghai."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.accounts.models import BillingPlan
from app.core.audit import Actor, record_changes
from app.core.money import PLATFORM_CURRENCY

PLAN_FIELDS = (
    "monthly_fee_minor",
    "per_order_fee_minor",
    "wholesale_fee_bp",
    "minimum_commitment_minor",
    "vat_rate_bp",
    "timezone",
)
DEFAULTS: dict[str, Any] = {
    "currency": PLATFORM_CURRENCY,
    "monthly_fee_minor": 0,
    "per_order_fee_minor": 0,
    "wholesale_fee_bp": 0,
    "minimum_commitment_minor": 0,
    "vat_rate_bp": 600,
    "timezone": "Asia/Shanghai",
}


def plan_for(session: Session, partner_id: str) -> BillingPlan:
    """The partner's plan; the defaults (not saved) when none was ever set."""
    return session.get(BillingPlan, partner_id) or BillingPlan(partner_id=partner_id, **DEFAULTS)


def plan_values(plan: BillingPlan) -> dict[str, Any]:
    return {"currency": plan.currency, **{name: getattr(plan, name) for name in PLAN_FIELDS}}


def set_plan(
    session: Session, actor: Actor, partner_id: str, data: dict[str, Any]
) -> tuple[BillingPlan, list[str]]:
    """Create or update the plan from `data` (plan fields; missing ones keep their value).
    Returns the plan and the names of the fields that changed. Invoices already generated
    keep the plan they were priced with (a snapshot), so a change applies from the next one."""
    plan = session.get(BillingPlan, partner_id, with_for_update=True)
    if plan is None:
        plan = BillingPlan(partner_id=partner_id, **DEFAULTS)
        session.add(plan)
    before = plan_values(plan)
    for name in PLAN_FIELDS:
        if name in data:
            setattr(plan, name, data[name])
    changed = record_changes(
        session,
        actor,
        "billing_plan.updated",
        "billing_plan",
        partner_id,
        before,
        plan_values(plan),
        partner_id=partner_id,
    )
    return plan, changed
