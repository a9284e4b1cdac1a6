"""A web blueprint standing in for the admin portal: its principals come from a header (in
place of a browser session), its errors are pages. Installed on the test app (conftest)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from app.core.errors import NotFound, register_html_errors
from app.core.principal import PARTNER_ROLES, Principal, register_authenticator, requires
from app.core.tenancy import current_partner_id

page = Blueprint("page", __name__, url_prefix="/page")


@page.route("/orders")
@requires("orders:read", via="test_session")
def orders() -> str:
    return f"orders of {current_partner_id()}"


@page.route("/reveal", methods=["POST"])
@requires("entitlements:reveal", via="test_session")
def reveal() -> str:
    return "revealed"


@page.route("/missing")
@requires("orders:read", via="test_session")
def missing() -> str:
    raise NotFound("No such order.")


def _authenticate() -> Principal | None:
    role = request.headers.get("X-Test-Role")
    if role is None:
        return None
    return Principal("staff", "stf_test", request.headers["X-Test-Partner"], PARTNER_ROLES[role])


def _page(status: int, code: str, title: str, detail: str) -> Response:
    return Response(f"<h1>{title}</h1><p>{detail}</p>", status=status, mimetype="text/html")


def install(app: Flask) -> None:
    register_authenticator(app, "test_session", _authenticate)
    register_html_errors(app, "page", _page)
    app.register_blueprint(page)
