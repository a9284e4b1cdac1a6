"""A partner's team: invitations by mail, disabling and enabling; and the one-time links
(invitation, password reset) that anyone holding one may open."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.forms import ActionForm, InviteForm, PasswordForm, ResetRequestForm
from app.auth import staff as staff_service
from app.auth.web import STAFF
from app.core.db import utcnow
from app.core.http import request_actor
from app.core.principal import PARTNER_ROLES, requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.extensions import db


def _link_base(endpoint_path: str) -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + endpoint_path


def invite_form() -> InviteForm:
    form = InviteForm()
    form.role.choices = [(role, role) for role in PARTNER_ROLES]
    return form


def send_invitation(form: InviteForm, partner_id: str) -> None:
    """Invite the person the (validated) form names to the partner's staff, by mail."""
    staff_service.invite(
        db.session(),
        request_actor(),
        current_vault(),
        email=form.email.data or "",
        name=form.name.data or "",
        role=form.role.data or "",
        partner_id=partner_id,
        link_base=_link_base("/admin/invitation"),
        now=utcnow(),
    )
    flash(_("Invitation sent to %(email)s.", email=form.email.data), "ok")


@bp.route("/staff")
@requires("staff:manage", via=STAFF)
def team() -> str:
    session = db.session()
    return render_template(
        "admin/team.html",
        members=staff_service.list_staff(session, current_partner_id()),
        form=invite_form(),
        action=ActionForm(),
    )


@bp.route("/staff/invite", methods=["POST"])
@requires("staff:manage", via=STAFF)
def invite() -> Response | tuple[str, int]:
    form = invite_form()
    session = db.session()
    if not form.validate_on_submit():
        members = staff_service.list_staff(session, current_partner_id())
        page = render_template("admin/team.html", members=members, form=form, action=ActionForm())
        return page, 422
    send_invitation(form, current_partner_id())
    return redirect(url_for("admin.team"))


@bp.route("/staff/<staff_id>/<any(disable, enable):change>", methods=["POST"])
@requires("staff:manage", via=STAFF)
def change_staff_status(staff_id: str, change: str) -> Response:
    session = db.session()
    member = staff_service.get_team_member(session, current_partner_id(), staff_id)
    status = "disabled" if change == "disable" else "active"
    staff_service.set_status(session, request_actor(), member, status, now=utcnow())
    return redirect(url_for("admin.team"))


def _set_password_page(token: str, title: str) -> Any:
    session = db.session()
    found = staff_service.token_for(session, token, utcnow())
    if found is None:
        return render_template("admin/link_expired.html"), 410
    form = PasswordForm()
    if form.validate_on_submit():
        staff_service.set_password_with_token(
            session, found, form.password.data or "", ip=request.remote_addr, now=utcnow()
        )
        flash(_("Your password is set. Sign in with it now."), "ok")
        return redirect(url_for("admin.sign_in"))
    return render_template("admin/set_password.html", form=form, title=title)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Any:
    return _set_password_page(token, _("Welcome: choose your password"))


@bp.route("/password-reset", methods=["GET", "POST"])
def request_password_reset() -> Any:
    form = ResetRequestForm()
    if form.validate_on_submit():
        staff_service.request_password_reset(
            db.session(),
            current_vault(),
            form.email.data or "",
            link_base=_link_base("/admin/password-reset"),
            now=utcnow(),
        )
        # the same answer whether or not the account exists
        flash(_("If this email has an account, a reset link is on its way."), "ok")
        return redirect(url_for("admin.sign_in"))
    return render_template("admin/password_reset.html", form=form)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Any:
    return _set_password_page(token, _("Choose a new password"))
