"""The partner console: dashboard, orders, members. Every query goes through the domains'
services with the principal's partner, so a staff member sees only their partner's rows and
a foreign id answers the 404 page."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.accounts.service import account_for
from app.admin import bp, seconds
from app.admin.charts import Chart, bar_chart, labelled_chart
from app.admin.forms import AdjustPointsForm, MemberSearchForm, OpenCaseForm, OrderSearchForm
from app.auth.web import STAFF
from app.core.audit import audit_trail
from app.core.db import utcnow
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.entitlements import service as entitlements
from app.extensions import db
from app.members import service as members
from app.members.errors import MemberNotFound
from app.orders import reports
from app.orders import service as orders
from app.orders.models import LATENCY_BUCKETS_SECONDS
from app.partners import listings, quotas
from app.partners.models import Partner
from app.partners.service import get_partner
from app.webhooks.outbox import events_of_order

PERIODS = {"today": 1, "7d": 7, "30d": 30}  # days, today included
PAGE = 25


@bp.route("/")
@requires(via=STAFF)
def home() -> Response | str:
    if g.principal.partner_id is None:
        return redirect(url_for("admin.platform_home"))
    return dashboard()


def dashboard() -> str:
    session = db.session()
    partner = get_partner(session, current_partner_id())
    period = request.args.get("period", "7d")
    days = PERIODS.get(period, 7)
    zone = ZoneInfo(partner.timezone)
    today = utcnow().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    figures = reports.dashboard(session, partner.id, partner.timezone, first, today)
    account = account_for(session, partner.id)
    usage = quotas.usage(session, partner, utcnow())
    since = datetime.combine(first, time(), zone)
    return render_template(
        "admin/dashboard.html",
        partner=partner,
        period=period,
        periods=PERIODS,
        dash=figures,
        failed=reports.failed_recently(session, partner.id, since),
        account=account,
        usage=usage,
        busiest=_busiest(session, partner) if usage["limits"]["listing_daily_units"] else [],
        chart=bar_chart(figures.per_day, first, today),
        latency=_latency_chart(figures.latency_buckets),
        runway=figures.runway_days(account.available.amount, days),
    )


def _busiest(session: Session, partner: Partner) -> list[tuple[str, int]]:
    """(product name, units today) of the listings nearest the daily cap."""
    busiest = quotas.busiest_listings_today(session, partner, utcnow())
    names = dict(listings.listing_names(session, partner.id, [i for i, _ in busiest]))
    return [(names.get(listing_id, listing_id), used) for listing_id, used in busiest]


def _latency_chart(buckets: list[int]) -> Chart:
    """Deliveries per time-to-deliver bucket (≤ 1 s … ≤ 4 h, then more)."""
    labels = [f"≤ {seconds(bound)}" for bound in LATENCY_BUCKETS_SECONDS]
    labels.append(f"> {seconds(LATENCY_BUCKETS_SECONDS[-1])}")
    return labelled_chart(list(zip(labels, buckets, strict=True)))


def day_start(value: Any, zone: ZoneInfo, days: int = 0) -> datetime | None:
    if value is None:
        return None
    return datetime.combine(value + timedelta(days=days), time(), zone)


@bp.route("/orders")
@requires("orders:read", via=STAFF)
def order_list() -> Response | str:
    session = db.session()
    partner = get_partner(session, current_partner_id())
    form = OrderSearchForm(request.args)
    form.product.choices = [("", _("Any product"))] + [
        (listing.product_id, listing.product.name)
        for listing in listings.list_listings(session, partner.id, 500, None).data
    ]
    form.validate()
    if form.order_id.data:
        return redirect(url_for("admin.order_detail", order_id=form.order_id.data.strip()))
    zone = ZoneInfo(partner.timezone)
    filters = {
        "member": form.member.data or None,
        "client_reference": form.client_reference.data or None,
        "status": form.status.data or None,
        "product": form.product.data or None,
        "created_from": day_start(form.created_from.data, zone),
        "created_to": day_start(form.created_to.data, zone, days=1),
    }
    page = orders.list_orders(session, partner.id, PAGE, request.args.get("cursor"), filters)
    template = "admin/_orders_table.html" if request.headers.get("HX-Request") else None
    return render_template(template or "admin/orders.html", form=form, page=page)


@bp.route("/orders/<order_id>")
@requires("orders:read", via=STAFF)
def order_detail(order_id: str) -> str:
    session = db.session()
    partner_id = current_partner_id()
    order = orders.get_order(session, partner_id, order_id)
    ids = [order.id, *(d.id for d in order.deliveries), *(e.id for e in order.entitlements)]
    return render_template(
        "admin/order.html",
        order=order,
        timeline=audit_trail(session, ids, partner_id),
        events=events_of_order(session, partner_id, order.id),
        case_form=OpenCaseForm(),
    )


@bp.route("/members")
@requires("members:read", via=STAFF)
def member_list() -> str:
    session = db.session()
    partner_id = current_partner_id()
    form = MemberSearchForm(request.args)
    form.validate()
    query = (form.q.data or "").strip()
    found: list[Any]
    next_cursor = None
    if query.isdigit() and len(query) >= 7:  # a phone number: matched by its fingerprint
        found = members.find_members_by_phone(session, current_vault(), partner_id, query)
    elif query:
        try:
            found = [members.find_member(session, partner_id, query)]
        except MemberNotFound:
            found = []
    else:
        page = members.list_members(session, partner_id, PAGE, request.args.get("cursor"))
        found, next_cursor = page.data, page.next_cursor
    return render_template("admin/members.html", form=form, members=found, next_cursor=next_cursor)


@bp.route("/members/<external_id>")
@requires("members:read", via=STAFF)
def member_detail(external_id: str) -> str:
    session = db.session()
    partner_id = current_partner_id()
    member = members.find_member(session, partner_id, external_id)
    return render_template(
        "admin/member.html",
        member=member,
        ledger=members.ledger(session, partner_id, member, PAGE, request.args.get("cursor")),
        entitlements=entitlements.list_entitlements(session, partner_id, member, PAGE, None),
        orders=orders.list_orders(session, partner_id, 10, None, {"member": member.external_id}),
        adjust_form=AdjustPointsForm(),
    )
