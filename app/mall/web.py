"""The mall's pages, at /m/<slug>/: a member launched from the partner's app browses the
partner's catalog at their own price, buys with points (a double tap places one order),
reveals their codes and sees what they hold. Views declare `@requires("mall:shop", via=MALL)`;
the member principal comes from the mall session cookie, scoped to this partner's path."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    make_response,
    render_template,
    request,
)
from flask_babel import get_locale

from app.core.db import utcnow
from app.core.errors import NotFound, register_html_errors
from app.core.principal import MEMBER_PERMISSIONS, Principal, register_authenticator
from app.core.queue import redis_connection
from app.core.vault import current_vault
from app.core.web import csrf
from app.extensions import db
from app.mall import service
from app.members import external as external_points
from app.partners.models import Partner
from app.partners.service import find_partner_by_slug

MALL = "mall"
COOKIE = "quanyi_mall"

bp = Blueprint("mall", __name__, url_prefix="/m/<slug>", template_folder="templates")


@bp.url_value_preprocessor
def _partner_of_the_path(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Every mall URL names its partner; an unknown or inactive one is not found."""
    slug = (values or {}).pop("slug", "")
    partner = find_partner_by_slug(db.session(), slug)
    if partner is None or partner.status != "active" or partner.is_sandbox:
        raise NotFound("No mall here.")
    g.mall_partner = partner


@bp.url_defaults
def _add_slug(endpoint: str, values: dict[str, Any]) -> None:
    if "slug" not in values and g.get("mall_partner") is not None:
        values["slug"] = g.mall_partner.slug


@bp.before_request
def _check_csrf() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.context_processor
def _layout() -> dict[str, Any]:
    partner, member = g.get("mall_partner"), g.get("mall_member")
    balance = None
    if member is not None:
        connection = redis_connection(current_app)
        balance = external_points.points_balance(connection, current_vault(), partner, member)
    return {
        "partner": partner,
        "member": member,
        "points_balance": balance,
        "locale": str(get_locale()),
    }


@bp.app_template_filter("masked")
def masked(value: str | None) -> str:
    """An account shown by its last four characters only."""
    return f"****{value[-4:]}" if value else ""


def authenticate_member() -> Principal | None:
    """The member of this partner's mall session, if the cookie names a live one."""
    partner: Partner | None = g.get("mall_partner")
    cookie = request.cookies.get(COOKIE)
    if partner is None or not cookie:
        return None
    found = service.live_session(db.session(), partner.id, cookie, utcnow())
    if found is None:
        return None
    g.mall_session, g.mall_member = found
    return Principal("member", found[1].id, partner.id, frozenset(MEMBER_PERMISSIONS))


def cookie_path() -> str:
    return f"/m/{g.mall_partner.slug}"


def set_session_cookie(response: Response, value: str) -> Response:
    response.set_cookie(
        COOKIE,
        value,
        path=cookie_path(),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
        max_age=int(service.ABSOLUTE_TIMEOUT.total_seconds()),
    )
    return response


def _error_page(status: int, code: str, title: str, detail: str) -> Response:
    page = render_template("mall/error.html", status=status, code=code, title=title, detail=detail)
    return make_response(page, status)


def init_mall(app: Flask) -> None:
    from app.mall import pages  # noqa: F401 - the views register on bp

    register_authenticator(app, MALL, authenticate_member)
    register_html_errors(app, "mall", _error_page)
    app.register_blueprint(bp)
