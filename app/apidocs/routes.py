"""The published API documents and their pages: Swagger UI 5 (it reads OpenAPI 3.1) served from
its Python package, never a CDN; the error catalog as a page that problems' `type` links to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import swagger_ui
from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from markupsafe import Markup, escape

from app.apidocs.documents import PARTNER, PLATFORM, TITLES, documents
from app.core.error_catalog import AREAS, CATALOG
from app.core.errors import ERROR_CATALOG_PATH

SWAGGER_UI = Path(swagger_ui.__file__).parent / "static"
OWN_ASSETS = Path(__file__).with_name("static")
LINKS = (
    ("Partner API", "/api/v1/docs"),
    ("Operator API", "/api/v1/platform/docs"),
    ("Error codes", ERROR_CATALOG_PATH),
)
SPEC_URLS = {PARTNER: "/api/v1/openapi.json", PLATFORM: "/api/v1/platform/openapi.json"}

blp = Blueprint("apidocs", __name__, template_folder="templates")


@blp.app_template_filter("backticks")
def backticks(text: str) -> Markup:
    """`code` spans of the catalog's texts as <code>."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


@blp.get("/api/v1/openapi.json")
def partner_document() -> Any:
    return jsonify(documents(current_app)[PARTNER])


@blp.get("/api/v1/platform/openapi.json")
def platform_document() -> Any:
    return jsonify(documents(current_app)[PLATFORM])


@blp.get("/api/v1/docs")
def partner_docs() -> str:
    return _docs_page(PARTNER)


@blp.get("/api/v1/platform/docs")
def platform_docs() -> str:
    return _docs_page(PLATFORM)


def _docs_page(kind: str) -> str:
    return render_template(
        "apidocs/docs.html", title=TITLES[kind], spec_url=SPEC_URLS[kind], links=LINKS
    )


@blp.get(ERROR_CATALOG_PATH)
def error_catalog() -> str:
    areas = [(area, [e for e in CATALOG.values() if e.area == area]) for area in AREAS]
    return render_template("apidocs/errors.html", areas=areas)


@blp.get("/api/v1/docs/assets/<path:filename>")
def asset(filename: str) -> Any:
    folder = OWN_ASSETS if (OWN_ASSETS / filename).is_file() else SWAGGER_UI
    return send_from_directory(folder, filename, max_age=3600)
