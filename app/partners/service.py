"""Partners: create, update, read; and the declarative sync from `partners/<slug>/partner.yaml`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.accounts.plans import set_plan
from app.core.audit import Actor, record_audit, record_changes
from app.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.core.pagination import Page, paginate
from app.partners.models import Partner


def _apply(partner: Partner, data: dict[str, Any]) -> None:
    fields = ("slug", "name", "kind", "status", "timezone", "region", "price_floor_bp", "mall_host")
    for name in fields:
        if name in data:
            setattr(partner, name, data[name])
    if "branding" in data:
        partner.branding = {**(partner.branding or {}), **data["branding"]}
    if "notifications" in data:
        partner.notification_channel = data["notifications"].get("channel", "sms")
        partner.notification_templates = data["notifications"].get("templates", {})
    points = data.get("points")
    if points:
        if "unit_name" in points:
            partner.points_unit_name = points["unit_name"]
        if "source" in points:
            partner.points_source = points["source"]
        rate = points.get("rate")
        if rate:
            partner.points_rate_points = rate.get("points", partner.points_rate_points)
            if "value" in rate:
                partner.points_rate_value_minor = rate["value"].amount
                partner.points_rate_currency = rate["value"].currency


# Built once (every order and most partner requests run it): Session.get builds its statement
# on every call, which costs more than running this one.
_PARTNER = select(Partner).where(Partner.id == bindparam("partner_id"))


def get_partner(session: Session, partner_id: str) -> Partner:
    partner = session.scalars(_PARTNER, {"partner_id": partner_id}).first()
    if partner is None:
        raise NotFound("Partner not found.")
    return partner


def find_partner_by_slug(session: Session, slug: str) -> Partner | None:
    return session.scalars(select(Partner).where(Partner.slug == slug)).first()


def list_partners(
    session: Session, limit: int, cursor: str | None, sandbox: bool = False
) -> Page[Partner]:
    twins = Partner.sandbox_of_id.is_not(None) if sandbox else Partner.sandbox_of_id.is_(None)
    return paginate(session, select(Partner).where(twins), Partner.id, limit, cursor)


def create_partner(session: Session, actor: Actor, data: dict[str, Any]) -> Partner:
    if find_partner_by_slug(session, data["slug"]) is not None:
        raise Conflict(f"A partner with slug {data['slug']!r} exists.", field="slug")
    partner = Partner()
    _apply(partner, data)
    session.add(partner)
    session.flush()
    record_audit(
        session,
        actor,
        "partner.created",
        "partner",
        partner.id,
        partner_id=partner.id,
        after=partner.snapshot(),
    )
    return partner


def update_partner(
    session: Session, actor: Actor, partner: Partner, data: dict[str, Any]
) -> list[str]:
    """Apply `data`; returns the changed fields (empty: nothing written, nothing audited)."""
    before = partner.snapshot()
    _apply(partner, data)
    after = partner.snapshot()
    changed = record_changes(
        session,
        actor,
        "partner.updated",
        "partner",
        partner.id,
        before,
        after,
        partner_id=partner.id,
    )
    return changed


@dataclass(frozen=True)
class PartnerSettings:
    """What a partner's own owners and admins set for themselves in the portal."""

    adjustment_approval_points: int
    bulk_grant_approval_points: int
    case_first_response_hours: int
    case_resolution_hours: int


MAX_SLA_HOURS = 30 * 24


def update_settings(
    session: Session, actor: Actor, partner: Partner, settings: PartnerSettings
) -> list[str]:
    """Maker–checker thresholds and after-sales service levels; returns what changed."""
    errors: dict[str, list[str]] = {}
    if settings.adjustment_approval_points < 0:
        errors["adjustment_approval_points"] = ["Must not be negative."]
    if settings.bulk_grant_approval_points < 0:
        errors["bulk_grant_approval_points"] = ["Must not be negative."]
    if not 1 <= settings.case_first_response_hours <= settings.case_resolution_hours:
        errors["case_first_response_hours"] = ["At least 1 hour, and no more than resolution."]
    if settings.case_resolution_hours > MAX_SLA_HOURS:
        errors["case_resolution_hours"] = [f"At most {MAX_SLA_HOURS} hours."]
    if errors:
        raise ValidationFailed(errors)
    before = {name: getattr(partner, name) for name in vars(settings)}
    for name, value in vars(settings).items():
        setattr(partner, name, value)
    return record_changes(
        session,
        actor,
        "partner.settings_updated",
        "partner",
        partner.id,
        before,
        dict(vars(settings)),
        partner_id=partner.id,
    )


# --- declarative sync -----------------------------------------------------------------


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"created {slug}" for slug in self.created]
        out += [f"updated {slug}: {', '.join(f)}" for slug, f in self.updated.items()]
        out += [f"unchanged {slug}" for slug in self.unchanged]
        out += [f"error {e}" for e in self.errors]
        return out


def _describe_errors(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            out += _describe_errors(value, f"{prefix}{key}.")
        return out
    text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
    return [f"field '{prefix.rstrip('.')}': {text}"]


def load_partner_file(path: Path) -> dict[str, Any]:
    """Parse and validate one partner.yaml; raises ValueError naming the file and the field."""
    from app.partners.schemas import ListingFileSchema, PartnerSchema

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    from app.accounts.schemas import BillingPlanSchema

    listings_raw = raw.pop("listings", None) or []
    plan_raw = raw.pop("billing_plan", None)
    try:
        data: dict[str, Any] = PartnerSchema().load(raw)
        data["listings"] = ListingFileSchema(many=True).load(listings_raw)
    except ValidationError as exc:
        raise ValueError(f"{path}: " + "; ".join(_describe_errors(exc.messages))) from None
    try:
        data["billing_plan"] = None if plan_raw is None else BillingPlanSchema().load(plan_raw)
    except ValidationError as exc:
        messages = {"billing_plan": exc.messages}
        raise ValueError(f"{path}: " + "; ".join(_describe_errors(messages))) from None
    if data["slug"] != path.parent.name:
        raise ValueError(f"{path}: field 'slug': must equal the folder name {path.parent.name!r}")
    return data


def _sync_listings(
    session: Session,
    actor: Actor,
    partner: Partner,
    path: Path,
    entries: list[dict[str, Any]],
    update_existing: bool,
) -> list[str]:
    """Create the file's missing listings and, with `update_existing`, update the others
    (never deletes); names what changed."""
    from app.partners import listings
    from app.supply.models import Product

    changed = []
    for i, entry in enumerate(entries):
        ref = entry.pop("product")
        product = session.scalars(
            select(Product).where(Product.brand == ref["brand"], Product.name == ref["name"])
        ).first()
        if product is None:
            raise ValueError(
                f"{path}: field 'listings.{i}.product': no product {ref['brand']} / {ref['name']}"
            )
        try:
            listing = listings.find_listing_by_product(session, partner.id, product.id)
        except NotFound:
            listings.create_listing(
                session, actor, partner.id, product.id, listings.ListingTerms.of(entry)
            )
            changed.append(f"listing {product.name} created")
            continue
        if update_existing and listings.update_listing(
            session, actor, listing, listings.ListingTerms.of(entry)
        ):
            changed.append(f"listing {product.name} updated")
    return changed


def sync_partners(
    session: Session, actor: Actor, root: Path, update_existing: bool = True
) -> SyncReport:
    """Create or update every partner (and its listings) under `root`; never deletes. An
    invalid file is reported and nothing of it is written; the valid ones still apply.
    Without `update_existing` only what is missing is created: the demo seed runs at every
    `make run`, and what staff set in the portal since (prices, the mall's look) stays."""
    report = SyncReport()
    for path in sorted(root.glob("*/partner.yaml")):
        try:
            data = load_partner_file(path)
        except ValueError as exc:
            report.errors.append(str(exc))
            continue
        entries = data.pop("listings")
        plan = data.pop("billing_plan")
        savepoint = session.begin_nested()
        try:
            partner = find_partner_by_slug(session, data["slug"])
            created = partner is None
            if partner is None:
                partner = create_partner(session, actor, data)
                changed = []
            elif update_existing:
                changed = update_partner(session, actor, partner, data)
            else:
                changed = []
            changed += _sync_listings(session, actor, partner, path, entries, update_existing)
            if plan is not None and (created or update_existing):
                _, plan_changed = set_plan(session, actor, partner.id, plan)
                changed += [f"billing_plan.{name}" for name in plan_changed if not created]
        except (ValueError, DomainError) as exc:
            savepoint.rollback()
            report.errors.append(str(exc) if isinstance(exc, ValueError) else f"{path}: {exc}")
            continue
        savepoint.commit()
        if created:
            report.created.append(data["slug"])
        elif changed:
            report.updated[data["slug"]] = changed
        else:
            report.unchanged.append(data["slug"])
    return report
