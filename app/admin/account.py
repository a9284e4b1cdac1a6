"""Signing in and out, the second factor, the staff member's own sessions, the language."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import segno
from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.forms import ActionForm, CodeForm, EnrollForm, LanguageForm, SignInForm
from app.auth import staff as staff_service
from app.auth.web import STAFF, current_staff_session, session_policy
from app.core.db import utcnow
from app.core.principal import requires
from app.core.queue import redis_connection
from app.core.vault import current_vault
from app.core.web import LOCALE_COOKIE, LOCALES
from app.extensions import db

YEAR_SECONDS = 365 * 24 * 3600


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never `//other.host`): no open redirect."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.home")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    form = SignInForm(next=request.args.get("next"))
    if not form.validate_on_submit():
        return render_template("admin/sign_in.html", form=form)
    try:
        signed_in = staff_service.sign_in(
            db.session(),
            redis_connection(current_app),
            form.email.data or "",
            form.password.data or "",
            ip=request.remote_addr,
            user_agent=request.user_agent.string,
            now=utcnow(),
            policy=session_policy(),
        )
    except staff_service.SignInLocked:
        flash(_("Too many failed attempts. Wait a few minutes, then try again."), "error")
        return render_template("admin/sign_in.html", form=form), 429
    if signed_in is None:
        flash(_("The email or the password is wrong."), "error")
        return render_template("admin/sign_in.html", form=form)
    staff = signed_in.session.staff
    if signed_in.session.verified_at is not None:
        target = _safe_next(form.next.data)
    elif staff.has_totp:
        target = url_for("admin.second_factor", next=form.next.data or None)
    else:
        target = url_for("admin.enroll_totp")
    response = redirect(target)
    response.set_cookie(
        staff_service.SESSION_COOKIE,
        signed_in.token,
        max_age=int(session_policy().absolute.total_seconds()),
        path="/admin",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.route("/sign-in/code", methods=["GET", "POST"])
def second_factor() -> Any:
    found = current_staff_session()
    if found is None:
        return redirect(url_for("admin.sign_in"))
    if found.verified_at is not None:
        return redirect(_safe_next(request.args.get("next")))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            ok = staff_service.verify_second_factor(
                db.session(),
                redis_connection(current_app),
                current_vault(),
                found,
                form.code.data or "",
                ip=request.remote_addr,
                now=utcnow(),
            )
        except staff_service.SignInLocked:
            flash(_("Too many failed attempts. Wait a few minutes, then try again."), "error")
            return render_template("admin/second_factor.html", form=form), 429
        if ok:
            return redirect(_safe_next(request.args.get("next")))
        flash(_("That code is not valid (or was used already)."), "error")
    return render_template("admin/second_factor.html", form=form)


@bp.route("/account/totp", methods=["GET", "POST"])
def enroll_totp() -> Any:
    """Set up the authenticator app. Staff who must use one come here right after their
    password; others may from their account page."""
    found = current_staff_session()
    if found is None:
        return redirect(url_for("admin.sign_in"))
    staff = found.staff
    if staff.has_totp:
        return redirect(url_for("admin.account"))
    form = EnrollForm()
    if form.validate_on_submit():
        codes = staff_service.enable_totp(
            db.session(),
            current_vault(),
            found,
            form.secret.data or "",
            form.code.data or "",
            ip=request.remote_addr,
            now=utcnow(),
        )
        if codes is not None:
            return render_template("admin/recovery_codes.html", codes=codes)
        flash(_("That code does not match; check the time on your phone and try again."), "error")
    else:
        form.secret.data = staff_service.new_totp_secret()
    uri = staff_service.provisioning_uri(staff, form.secret.data or "")
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, dark="#111")
    return render_template("admin/enroll.html", form=form, qr=qr, secret=form.secret.data)


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    found = current_staff_session()
    if found is not None:
        staff_service.sign_out(
            db.session(), found.staff, found.id, ip=request.remote_addr, now=utcnow()
        )
    response = redirect(url_for("admin.sign_in"))
    response.delete_cookie(staff_service.SESSION_COOKIE, path="/admin")
    return response


@bp.route("/account")
@requires(via=STAFF)
def account() -> str:
    found = current_staff_session()
    assert found is not None
    sessions = staff_service.list_sessions(db.session(), found.staff, utcnow())
    return render_template(
        "admin/account.html",
        staff=found.staff,
        current=found,
        sessions=sessions,
        action=ActionForm(),
    )


@bp.route("/account/sessions/<session_id>/end", methods=["POST"])
@requires(via=STAFF)
def end_session(session_id: str) -> Response:
    found = current_staff_session()
    assert found is not None
    staff_service.sign_out(
        db.session(), found.staff, session_id, ip=request.remote_addr, now=utcnow()
    )
    flash(_("The session was signed out."), "ok")
    return redirect(url_for("admin.account"))


@bp.route("/account/sessions/end-all", methods=["POST"])
@requires(via=STAFF)
def end_all_sessions() -> Response:
    found = current_staff_session()
    assert found is not None
    staff_service.sign_out_everywhere(
        db.session(), found.staff, ip=request.remote_addr, now=utcnow()
    )
    response = redirect(url_for("admin.sign_in"))
    response.delete_cookie(staff_service.SESSION_COOKIE, path="/admin")
    return response


@bp.route("/language", methods=["POST"])
def choose_language() -> Response:
    form = LanguageForm()
    locale = form.locale.data if form.validate_on_submit() else None
    response = make_response(redirect(_safe_next(form.next.data)))
    if locale in LOCALES:
        response.set_cookie(
            LOCALE_COOKIE, locale, max_age=YEAR_SECONDS, samesite="Lax", httponly=True
        )
        found = current_staff_session()
        if found is not None and found.verified_at is not None:
            found.staff.locale = locale
    return response


@bp.context_processor
def _layout_forms() -> dict[str, Any]:
    return {
        "language_form": LanguageForm(),
        "sign_out_form": ActionForm(),
        "locales": LOCALES,
        "return_to": _return_to(),
    }


def _return_to() -> str:
    """Where switching language comes back to: this page, or for the answer to a form post
    (a preview, a refused save) the page of the form, which a GET can show."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host:
        return _safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
    return url_for("admin.home")
