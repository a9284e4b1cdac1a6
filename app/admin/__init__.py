"""The admin portal: partner staff's console and the platform's operator console, as
server-rendered pages (Jinja2 + htmx) over the same service functions as the JSON API.

Every view declares what it needs with `@requires(..., via=STAFF)`; the permission names are
the API's scopes (app/core/principal.py). Errors under this blueprint are pages, and a request
without a live staff session is sent to the sign-in page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for
from flask_babel import format_currency, get_locale

from app.core.errors import register_html_errors
from app.core.money import PLATFORM_CURRENCY
from app.core.web import csrf

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


@bp.before_request
def _check_csrf() -> None:
    """Every form post and htmx request of the portal carries the CSRF token."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.context_processor
def _principal() -> dict[str, Any]:
    return {"principal": g.get("principal"), "next_page": _next_page, "locale": str(get_locale())}


def _next_page(cursor: str) -> str:
    """This page's URL with the next cursor (its filters kept)."""
    args: dict[str, Any] = {**request.args.to_dict(), **(request.view_args or {})}
    args["cursor"] = cursor
    return url_for(request.endpoint or "admin.home", **args)


@bp.app_template_filter("money")
def money(minor: int | None, currency: str = PLATFORM_CURRENCY) -> str:
    """Minor units as the locale writes money (¥1,234.50)."""
    return str(format_currency(Decimal(minor or 0) / 100, currency))


@bp.app_template_filter("seconds")
def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 60:
        return f"{value:g} s"
    if value < 3600:
        return f"{value / 60:g} min"
    return f"{value / 3600:g} h"


def _error_page(status: int, code: str, title: str, detail: str) -> Response:
    if status == 401:
        return redirect(url_for("admin.sign_in", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
    page = render_template("admin/error.html", status=status, code=code, title=title, detail=detail)
    return Response(page, status=status, mimetype="text/html")


def init_admin(app: Flask) -> None:
    from app.admin import (  # noqa: F401 - the views register on bp
        account,
        audit,
        cases,
        console,
        developers,
        exports,
        finance,
        grants,
        listings,
        members,
        operator,
        platform,
        settings,
        team,
    )

    app.register_blueprint(bp)
    register_html_errors(app, bp.name, _error_page)
