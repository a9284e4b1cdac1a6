"""`flask demo seed`: everything `make run` needs to show Quanyi from nothing. Idempotent."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.service import account_for, top_up
from app.auth import staff as staff_service
from app.config import ROOT
from app.core.audit import Actor
from app.core.db import utcnow
from app.core.vault import current_vault
from app.extensions import db
from app.mall import payments
from app.mall.pay_sim import DEFAULTS as PAY_SIM_DEFAULTS
from app.members import external as external_points
from app.members.points_sim import DEFAULTS as POINTS_SIM_DEFAULTS
from app.members.service import MemberChanges, grant_points, upsert_member
from app.partners.cli import CLI_ACTOR
from app.partners.models import Listing, Partner
from app.partners.service import sync_partners
from app.supply.demo import seed_supply
from app.supply.suppliers import platform_today

demo_cli = AppGroup("demo", help="Demo data.")
DEMO_PREPAYMENT_MINOR = 10_000_000  # ¥100,000 of prepaid balance per demo partner
# the demo's portal accounts: public, like everything of the demo (never seeded in production)
DEMO_STAFF_PASSWORD = "quanyi-demo-2026"
DEMO_TOTP_SECRET = "QUANYIDEMOTOTPKEYFORSTAFFSIGNINZ"
OPERATOR_EMAIL = "operator@quanyi.demo"


def demo_staff_logins(session: Session) -> list[tuple[str, str]]:
    """(email, who) of each demo portal account: an owner per demo partner, one operator."""
    logins = [(OPERATOR_EMAIL, "platform operator")]
    for partner in session.scalars(
        select(Partner).where(Partner.sandbox_of_id.is_(None)).order_by(Partner.slug)
    ):
        logins.append((f"owner@{partner.slug}.demo", f"owner of {partner.slug}"))
    return logins


def seed_demo_staff(session: Session, actor: Actor) -> int:
    """The demo's portal accounts, with the demo's TOTP secret already set up (owners and
    operators must use a second factor)."""
    created = 0
    for email, _who in demo_staff_logins(session):
        if staff_service.find_staff(session, email) is not None:
            continue
        slug = email.split("@")[1].removesuffix(".demo")
        partner = session.scalars(select(Partner).where(Partner.slug == slug)).first()
        staff = staff_service.create_staff(
            session,
            actor,
            email=email,
            name="运营 Operator" if partner is None else f"{partner.name} Owner",
            role="operator" if partner is None else "owner",
            partner_id=partner.id if partner else None,
            password=DEMO_STAFF_PASSWORD,
        )
        staff_service.set_totp_secret(current_vault(), staff, DEMO_TOTP_SECRET, utcnow())
        created += 1
    return created


DEMO_MEMBER = "demo-member"
DEMO_MEMBER_POINTS = 200_000


def seed_demo_members(session: Session, actor: Actor) -> int:
    """A member per live demo partner, with points to spend in its mall (granted once)."""
    created = 0
    for partner in session.scalars(select(Partner).where(Partner.sandbox_of_id.is_(None))):
        member, is_new = upsert_member(
            session, actor, partner.id, DEMO_MEMBER, MemberChanges.of({"display_name": "演示会员"})
        )
        if is_new:
            created += 1
            if partner.points_source == "internal":  # else the simulated ledger's opening
                grant_points(session, member, DEMO_MEMBER_POINTS, "demo points")
    return created


def demo_mall_links() -> list[tuple[str, str]]:
    """(slug, URL) of each demo partner's mall, entered as its demo member."""
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    slugs = db.session().scalars(
        select(Partner.slug).where(Partner.sandbox_of_id.is_(None)).order_by(Partner.slug)
    )
    return [(slug, f"{base}/m/{slug}/demo") for slug in slugs]


def fund_demo_partners(session: Session, actor: Actor) -> int:
    """Prepay each demo partner once, so that demo orders go through."""
    funded = 0
    for partner in session.scalars(select(Partner)):
        if account_for(session, partner.id).balance_minor == 0:
            top_up(session, actor, partner.id, DEMO_PREPAYMENT_MINOR, "demo prepayment")
            funded += 1
    return funded


def connect_demo_points_services(session: Session, actor: Actor) -> None:
    """Partners that keep their own points ledger reach the simulated one (/points-sim)."""
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/points-sim"
    for partner in session.scalars(
        select(Partner).where(
            Partner.points_source == "external", Partner.points_service_url.is_(None)
        )
    ):
        external_points.configure(
            session, actor, partner, current_vault(), url, POINTS_SIM_DEFAULTS["PTS_SECRET"]
        )


def connect_demo_payment_pages(session: Session, actor: Actor) -> None:
    """Partners selling points + cash take the cash on the simulated payment page (/pay-sim)."""
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/pay-sim/pay"
    with_cash = select(Listing.partner_id).where(Listing.price_cash_minor > 0)
    for partner in session.scalars(
        select(Partner).where(Partner.id.in_(with_cash), Partner.mall_payment_url.is_(None))
    ):
        payments.configure(
            session, actor, partner, current_vault(), url, PAY_SIM_DEFAULTS["PAY_SECRET"]
        )


@demo_cli.command("seed")
@click.option("--partners", "root", default=str(Path(ROOT) / "partners"), type=click.Path())
def seed(root: str) -> None:
    """Load the demo partners and the demo supply (seeding twice changes nothing). Refused in
    production: the demo's supplier secret is public and its codes derivable."""
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException("the demo is never seeded in production (QUANYI_ENV)")
    with db.transaction() as session:
        sim_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/supplier-sim"
        created = seed_supply(session, CLI_ACTOR, current_vault(), platform_today(), sim_url)
        report = sync_partners(session, CLI_ACTOR, Path(root), update_existing=False)
        if report.errors:
            for line in report.lines():
                click.echo(line)
            raise click.ClickException("some partner files are invalid")
        funded = fund_demo_partners(session, CLI_ACTOR)
        connect_demo_points_services(session, CLI_ACTOR)
        connect_demo_payment_pages(session, CLI_ACTOR)
        staff = seed_demo_staff(session, CLI_ACTOR)
        members = seed_demo_members(session, CLI_ACTOR)
    for line in report.lines():
        click.echo(line)
    click.echo("supply: " + ", ".join(f"{n} {what} created" for what, n in created.items()))
    if funded:
        click.echo(f"funded {funded} demo partner account(s)")
    if staff:
        click.echo(f"created {staff} demo portal account(s)")
    if members:
        click.echo(f"created {members} demo mall member(s)")


@demo_cli.command("logins")
def logins() -> None:
    """Print the demo's portal sign-ins (`make run` shows them)."""
    for email, who in demo_staff_logins(db.session()):
        click.echo(f"  {email:<32} {who}")
    click.echo(f"  password: {DEMO_STAFF_PASSWORD}")
    click.echo(
        f"  second factor: add TOTP key {DEMO_TOTP_SECRET} to an authenticator app, or run"
        f" .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{DEMO_TOTP_SECRET}').now())\""
    )
    click.echo("Demo malls (entered as each partner's demo member, as its app would):")
    for slug, url in demo_mall_links():
        click.echo(f"  {slug:<14} {url}")
