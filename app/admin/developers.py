"""Developers: the partner's API clients (and sandbox clients), webhook endpoints and the API
request log of the last 7 days. A new or rotated secret is shown once, on the answer that
made it; nothing stores it readable."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.console import PAGE
from app.admin.forms import ActionForm, NewClientForm, NewEndpointForm
from app.auth import request_log
from app.auth import service as clients
from app.auth.models import ApiClient
from app.auth.web import STAFF
from app.core.errors import NotFound
from app.core.http import request_actor
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.extensions import db
from app.partners.service import get_partner
from app.sandbox import service as sandbox
from app.webhooks import endpoints
from app.webhooks.outbox import replay_event, send_test

ROTATION_GRACE = timedelta(hours=24)


def _client(session: Session, client_id: str) -> ApiClient:
    """A client of this partner or of its sandbox twin (anyone else's: 404)."""
    partner = get_partner(session, current_partner_id())
    twin = sandbox.twin_of(session, partner)
    for owner in (partner.id, twin.id if twin else None):
        if owner is None:
            continue
        try:
            return clients.get_partner_client(session, owner, client_id)
        except NotFound:
            continue
    raise NotFound("API client not found.")


@bp.route("/developers")
@requires("developers:manage", via=STAFF)
def developers() -> str:
    session = db.session()
    partner = get_partner(session, current_partner_id())
    twin = sandbox.twin_of(session, partner)
    return render_template(
        "admin/developers.html",
        live_clients=clients.list_partner_clients(session, partner.id),
        sandbox_clients=clients.list_partner_clients(session, twin.id) if twin else [],
        endpoints=endpoints.list_endpoints(session, partner.id, 50, None).data,
        client_form=NewClientForm(),
        endpoint_form=NewEndpointForm(),
        action=ActionForm(),
    )


@bp.route("/developers/clients", methods=["POST"])
@requires("developers:manage", via=STAFF)
def create_api_client() -> Response | str:
    form = NewClientForm()
    if not form.validate_on_submit():
        flash(_("Give the client a name."), "error")
        return redirect(url_for("admin.developers"))
    session = db.session()
    owner = get_partner(session, current_partner_id())
    if form.sandbox.data:
        owner = sandbox.provision(session, request_actor(), current_vault(), owner)
    issued = clients.create_client(
        session, request_actor(), kind="partner", partner_id=owner.id, name=form.name.data or ""
    )
    return render_template("admin/secret.html", client=issued.client, secret=issued.secret)


@bp.route("/developers/clients/<client_id>/rotate", methods=["POST"])
@requires("developers:manage", via=STAFF)
def rotate_api_client(client_id: str) -> str:
    session = db.session()
    issued = clients.rotate_client_secret(
        session, request_actor(), _client(session, client_id), ROTATION_GRACE
    )
    return render_template("admin/secret.html", client=issued.client, secret=issued.secret)


@bp.route("/developers/clients/<client_id>/revoke", methods=["POST"])
@requires("developers:manage", via=STAFF)
def revoke_api_client(client_id: str) -> Response:
    session = db.session()
    clients.revoke_client(session, request_actor(), _client(session, client_id))
    flash(_("The client was revoked; its tokens stop working now."), "ok")
    return redirect(url_for("admin.developers"))


@bp.route("/developers/webhooks", methods=["POST"])
@requires("webhooks:write", via=STAFF)
def create_webhook_endpoint() -> Response | str:
    form = NewEndpointForm()
    if not form.validate_on_submit():
        flash(_("Give an https URL."), "error")
        return redirect(url_for("admin.developers"))
    issued = endpoints.create_endpoint(
        db.session(),
        request_actor(),
        current_vault(),
        current_partner_id(),
        form.url.data or "",
        [],
        allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"],
    )
    return render_template("admin/secret.html", endpoint=issued.endpoint, secret=issued.secret)


@bp.route("/developers/webhooks/<endpoint_id>/test", methods=["POST"])
@requires("webhooks:write", via=STAFF)
def test_webhook_endpoint(endpoint_id: str) -> Response:
    session = db.session()
    endpoint = endpoints.get_endpoint(session, current_partner_id(), endpoint_id)
    send_test(session, request_actor(), endpoint)
    flash(_("A signed ping is on its way to %(url)s.", url=endpoint.url), "ok")
    return redirect(url_for("admin.developers"))


@bp.route("/developers/webhooks/<endpoint_id>/rotate", methods=["POST"])
@requires("webhooks:write", via=STAFF)
def rotate_webhook_secret(endpoint_id: str) -> str:
    """A new signing secret, shown once; the old one keeps signing alongside for 24 hours."""
    session = db.session()
    endpoint = endpoints.get_endpoint(session, current_partner_id(), endpoint_id)
    issued = endpoints.rotate_endpoint_secret(session, request_actor(), current_vault(), endpoint)
    return render_template("admin/secret.html", endpoint=issued.endpoint, secret=issued.secret)


@bp.route("/developers/requests")
@requires("developers:manage", via=STAFF)
def api_requests() -> str:
    """The partner's API requests of the last 7 days: status, error code, latency; no bodies."""
    errors_only = request.args.get("errors") == "1"
    client_id = (request.args.get("client") or "").strip() or None
    rows, cursor = request_log.recent(
        current_app,
        current_partner_id(),
        PAGE,
        request.args.get("cursor"),
        errors_only=errors_only,
        client_id=client_id,
    )
    return render_template(
        "admin/api_requests.html",
        rows=rows,
        cursor=cursor,
        errors_only=errors_only,
        client_id=client_id or "",
    )


@bp.route("/developers/webhooks/<endpoint_id>")
@requires("webhooks:write", via=STAFF)
def webhook_deliveries(endpoint_id: str) -> str:
    """The endpoint's delivery log: each event sent, its attempts and last answer."""
    session = db.session()
    endpoint = endpoints.get_endpoint(session, current_partner_id(), endpoint_id)
    page = endpoints.list_deliveries(session, endpoint, 50, request.args.get("cursor"))
    return render_template(
        "admin/deliveries.html", endpoint=endpoint, page=page, action=ActionForm()
    )


@bp.route("/developers/events/<event_id>/replay", methods=["POST"])
@requires("webhooks:write", via=STAFF)
def replay_webhook_event(event_id: str) -> Response:
    sent = replay_event(db.session(), request_actor(), current_partner_id(), event_id)
    flash(_("The event is sent again to %(n)s endpoint(s).", n=sent), "ok")
    came_from = urlsplit(request.referrer or "").path  # back to the page, never off the site
    return redirect(came_from if came_from.startswith("/admin/") else url_for("admin.developers"))
