"""The mall's pages (registered on app.mall.web.bp)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from app.core.audit import Actor
from app.core.db import utcnow
from app.core.errors import DomainError, NotFound
from app.core.http import request_actor
from app.core.money import Money
from app.core.principal import requires
from app.core.queue import redis_connection
from app.core.vault import current_vault
from app.core.web import LOCALE_COOKIE, LOCALES
from app.demo import DEMO_MEMBER
from app.entitlements import service as entitlements
from app.entitlements.models import Entitlement
from app.extensions import db, limiter
from app.mall import payments, service
from app.mall.forms import ActionForm, BuyForm, LanguageForm, ReportForm
from app.mall.jwks import JwksSource
from app.mall.models import MallPayment
from app.mall.web import MALL, authenticate_member, bp, cookie_path, set_session_cookie
from app.members import external as external_points
from app.members.service import MemberChanges, ledger, upsert_member
from app.orders import aftersales, checkout
from app.orders.catalog import catalog_entries
from app.orders.models import Order
from app.orders.pricing import PricingContext, quote
from app.orders.routes import checkout_policies
from app.partners import listings
from app.supply.models import FULFILLMENT_TYPES

PAGE = 24
YEAR_SECONDS = 365 * 24 * 3600


def _pricing() -> PricingContext:
    member = g.mall_member
    return PricingContext(g.mall_partner.id, member.tier, utcnow(), member.id)


@bp.route("/launch")
def launch() -> Response:
    """Where the partner's app sends the member: the one-time token becomes a session."""
    token = request.args.get("token", "")
    if not token:
        raise service.LaunchRefused("This link has no launch token.")
    published = JwksSource(
        redis_connection(current_app),
        current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"],
        current_app.config.get("QUEUE_PREFIX", ""),
    )
    _session, cookie = service.redeem_launch(
        db.session(), g.mall_partner.id, token, utcnow(), published
    )
    return set_session_cookie(make_response(redirect(url_for("mall.home"))), cookie)


@bp.route("/demo")
def demo_launch() -> Response:
    """Outside production only: enter as the partner's demo member, through a launch token
    as the partner's app would issue one (`make run` prints these links)."""
    if current_app.config.get("ENV_NAME") == "production":
        raise NotFound("Not found.")
    issued = service.issue_launch(
        db.session(), Actor("system", "demo"), g.mall_partner.id, DEMO_MEMBER, utcnow(),
        MemberChanges.of({}),
    )  # fmt: skip
    return redirect(url_for("mall.launch", token=issued.token))  # type: ignore[return-value]


@bp.route("/theme.css")
def theme() -> Response:
    """The partner's colours as CSS variables (a stylesheet: the CSP allows no inline style)."""
    branding = g.mall_partner.branding or {}
    css = render_template("mall/theme.css", branding=branding)
    response = make_response(css)
    response.mimetype = "text/css"
    response.headers["Cache-Control"] = "public, max-age=60"  # a change shows within a minute
    return response


@bp.route("/")
@requires("mall:shop", via=MALL)
def home() -> str:
    session, partner = db.session(), g.mall_partner
    filters = {
        "q": (request.args.get("q") or "").strip()[:80] or None,
        "category": request.args.get("category") or None,
        "fulfillment_type": _one_of(request.args.get("type"), FULFILLMENT_TYPES),
        "sort": _one_of(request.args.get("sort"), MALL_SORTS) or "position",
    }
    page = listings.catalog(session, partner.id, PAGE, request.args.get("cursor"), filters)
    entries = catalog_entries(session, page.data, _pricing(), checkout_policies().adjusters)
    return render_template(
        "mall/home.html",
        entries=entries,
        next_cursor=page.next_cursor,
        categories=service.catalog_categories(
            session,
            redis_connection(current_app),
            current_app.config.get("QUEUE_PREFIX", ""),
            partner.id,
        ),
        filters=filters,
    )


MALL_SORTS = ("position", "price_asc", "price_desc")


def _one_of(value: str | None, allowed: tuple[str, ...]) -> str | None:
    """A filter's value when it is one the page offers; anything else filters nothing."""
    return value if value in allowed else None


def _entry(listing_id: str) -> dict[str, Any]:
    session = db.session()
    listing = listings.get_listing(session, g.mall_partner.id, listing_id, sellable_only=True)
    (entry,) = catalog_entries(session, [listing], _pricing(), checkout_policies().adjusters)
    return entry


@bp.route("/p/<listing_id>")
@requires("mall:shop", via=MALL)
def product(listing_id: str) -> str:
    form = BuyForm(checkout_key=uuid.uuid4().hex)
    return render_template("mall/product.html", entry=_entry(listing_id), form=form, error=None)


@bp.route("/p/<listing_id>/buy", methods=["POST"])
@requires("mall:shop", via=MALL)
def buy(listing_id: str) -> Response | tuple[str, int]:
    """Checkout through the same flow as the API. The form's key is the order's reference:
    a second submit of the same form finds the first order instead of placing another. A
    price with a cash part goes by the partner's payment page first (app/mall/payments.py).
    The member pays the quote of the pricing pipeline that checkout checks it against."""
    form = BuyForm()
    if not form.validate_on_submit():
        return _refused(_entry(listing_id), form, _("Check the quantity and the account."))
    member, partner = g.mall_member, g.mall_partner
    quantity = form.quantity.data or 1
    account = form.recharge_account.data or None
    try:
        listing = listings.get_listing(db.session(), partner.id, listing_id, sellable_only=True)
        priced = quote([(listing, quantity)], _pricing(), checkout_policies().adjusters)
        if priced.cash_minor:
            choice = {
                "listing_id": listing_id, "quantity": quantity, "recharge_account": account,
                "points": priced.points, "cash_minor": priced.cash_minor,
                "currency": priced.currency, "checkout_key": form.checkout_key.data,
                "description": listing.product.name,
            }  # fmt: skip
            return redirect(  # type: ignore[return-value]
                payments.start(
                    db.session(),
                    current_vault(),
                    partner,
                    member,
                    choice,
                    url_for("mall.payment_return", _external=True),
                    utcnow(),
                )  # fmt: skip
            )
        order = _place(
            checkout.OrderLine(listing_id, quantity, account),
            checkout.Payment(points=priced.points),
            form.checkout_key.data,
        )
    except DomainError as refused:
        return _refused(_entry(listing_id), form, refused.detail)
    return redirect(url_for("mall.order", order_id=order.id))  # type: ignore[return-value]


def _place(line: checkout.OrderLine, payment: checkout.Payment, key: str) -> Order:
    """The member's order through the checkout flow; a key used before gives its order."""
    member = g.mall_member
    command = checkout.PlaceOrder(
        member.external_id, (line,), payment, client_reference=f"mall:{key}"
    )
    try:
        order = checkout.place_order(
            db.session(), request_actor(), g.mall_partner.id, command,
            vault=current_vault(), policies=checkout_policies(),
        )  # fmt: skip
    except checkout.ClientReferenceUsed as used:  # this form was sent before: its order
        return _own_order(used.extra["order_id"])
    if g.mall_partner.points_source == "external":  # the balance shown is kept 15 s
        external_points.forget_balance(redis_connection(current_app), member.id)
    return order


@bp.route("/pay/return")
@requires("mall:shop", via=MALL)
def payment_return() -> Response | str:
    """Back from the partner's payment page with its signed result."""

    def place(payment: MallPayment) -> str:
        line = checkout.OrderLine(payment.listing_id, payment.quantity, payment.recharge_account)
        paid = checkout.Payment(
            points=payment.points,
            cash=Money(payment.cash_minor, payment.currency),
            cash_payment_ref=payment.payment_ref,
        )
        return _place(line, paid, payment.checkout_key).id

    payment = payments.complete(
        db.session(), current_vault(), g.mall_partner, g.mall_member,
        request.args.to_dict(), place, utcnow(),
    )  # fmt: skip
    if payment.status == "ordered" and payment.order_id:
        return redirect(url_for("mall.order", order_id=payment.order_id))  # type: ignore[return-value]
    return render_template("mall/payment.html", payment=payment)


def _refused(entry: dict[str, Any], form: BuyForm, message: str) -> tuple[str, int]:
    form.checkout_key.data = uuid.uuid4().hex  # the next try is a new order
    return render_template("mall/product.html", entry=entry, form=form, error=message), 422


def _own_order(order_id: str) -> Order:
    order = db.session().get(Order, order_id)
    if order is None or order.member_id != g.mall_member.id:
        raise NotFound("Order not found.")
    return order


@bp.route("/orders/<order_id>")
@requires("mall:shop", via=MALL)
def order(order_id: str) -> str:
    found = _own_order(order_id)
    template = "mall/_order_status.html" if request.headers.get("HX-Request") else None
    return render_template(
        template or "mall/order.html",
        order=found,
        action=ActionForm(),
        report=ReportForm(),
        open_cases=aftersales.open_case_units(db.session(), g.mall_partner.id, found.id),
    )


@bp.route("/orders/<order_id>/report", methods=["POST"])
@requires("mall:shop", via=MALL)
def report_problem(order_id: str) -> Response:
    """The member's own after-sales case about a delivered unit of their order; the partner's
    support sees it in the portal (and its backend through the API and `case.opened`)."""
    found = _own_order(order_id)
    form = ReportForm()
    if form.validate_on_submit():
        aftersales.open_case(
            db.session(),
            request_actor(),
            g.mall_partner.id,
            found.id,
            form.delivery_id.data or "",
            form.kind.data or "other",
            form.description.data or "",
            utcnow(),
        )
        flash(_("We have your report; the partner's support will look into it."), "ok")
    return redirect(url_for("mall.order", order_id=found.id))  # type: ignore[return-value]


@bp.route("/entitlements/<entitlement_id>/reveal", methods=["POST"])
@requires("mall:shop", via=MALL)
@limiter.limit("20 per minute", key_func=lambda: f"mall-reveal:{g.mall_member.id}")
def reveal(entitlement_id: str) -> Response:
    """The code, in this answer only (never in a page before the tap, never cached)."""
    owned = db.session().get(Entitlement, entitlement_id)
    if owned is None or owned.member_id != g.mall_member.id:
        raise NotFound("Entitlement not found.")
    entitlement, code, password = entitlements.reveal(
        db.session(), request_actor(), current_vault(), g.mall_partner.id, entitlement_id
    )
    page = render_template(
        "mall/_revealed.html", entitlement=entitlement, code=code, password=password
    )
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/me")
@requires("mall:shop", via=MALL)
def me() -> str:
    session, member = db.session(), g.mall_member
    return render_template(
        "mall/me.html",
        held=entitlements.list_entitlements(session, g.mall_partner.id, member, 50, None).data,
        history=(
            list(external_points.member_moves(session, member, 20))
            if g.mall_partner.points_source == "external"
            else ledger(session, g.mall_partner.id, member, 20, None).data
        ),
        now=utcnow(),
        action=ActionForm(),
    )


@bp.route("/me/notifications", methods=["POST"])
@requires("mall:shop", via=MALL)
def toggle_notifications() -> Response:
    """The member turns notifications off (or back on); the partner sees it on the member."""
    _change_member({"notifications": not g.mall_member.notifications})
    return redirect(url_for("mall.me"))  # type: ignore[return-value]


def _change_member(changes: dict[str, Any]) -> None:
    upsert_member(
        db.session(), request_actor(), g.mall_partner.id, g.mall_member.external_id,
        MemberChanges.of(changes),
    )  # fmt: skip


@bp.route("/language", methods=["POST"])
def choose_language() -> Response:
    form = LanguageForm()
    came_from = urlsplit(request.referrer or "").path  # back to the page, never off the mall
    back = came_from if came_from.startswith(cookie_path() + "/") else url_for("mall.home")
    response = make_response(redirect(back))
    if form.validate_on_submit() and form.locale.data in LOCALES:
        if authenticate_member() is not None:  # its notifications follow the mall's language
            _change_member({"language": form.locale.data})
        response.set_cookie(
            LOCALE_COOKIE, form.locale.data, max_age=YEAR_SECONDS, path=cookie_path(),
            samesite="Lax", httponly=True,
        )  # fmt: skip
    return response
