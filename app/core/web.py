"""What the web front ends (the admin portal, later the mall) share: locale (Flask-Babel,
zh-CN by default, en), CSRF (Flask-WTF, checked by each web blueprint), and the security
headers of every page — a strict CSP without inline scripts or styles, no framing, no
sniffing, no caching of pages that show partner data. Assets are the vendored files under
app/static/ (app/static/vendor.json); nothing is loaded from another origin."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, g, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

LOCALES = ("zh_CN", "en")
LOCALE_COOKIE = "lang"
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
csrf = CSRFProtect()


def select_locale() -> str:
    """The language the person chose (cookie), else the staff member's saved one, else the
    browser's preference among ours, else zh-CN."""
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    preferred = g.get("preferred_locale")
    if preferred in LOCALES:
        return str(preferred)
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return "en" if best == "en" else "zh_CN"


def init_web(app: Flask, blueprints: Iterable[str]) -> None:
    Babel(app, locale_selector=select_locale)
    csrf.init_app(app)
    web = tuple(blueprints)

    @app.after_request
    def _page_headers(response: Response) -> Response:
        if request.blueprint not in web and request.endpoint != "static":
            return response
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.blueprint in web:
            response.headers["Cache-Control"] = "no-store"
        return response
