"""The operator console (platform staff): partners, and any order found by its id."""

from __future__ import annotations

from flask import render_template, request

from app.admin import bp
from app.auth.web import STAFF
from app.core.principal import requires
from app.extensions import db
from app.orders.service import find_any_order
from app.partners.service import list_partners


@bp.route("/platform/")
@requires("platform:read", via=STAFF)
def platform_home() -> str:
    session = db.session()
    sandbox = request.args.get("sandbox") == "1"
    page = list_partners(session, 50, request.args.get("cursor"), sandbox)
    order_id = (request.args.get("order") or "").strip()
    found = find_any_order(session, order_id) if order_id else None
    return render_template(
        "admin/platform.html", page=page, sandbox=sandbox, order_id=order_id, found=found
    )
