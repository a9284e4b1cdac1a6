"""Static assets served by the app itself: Swagger UI from its Python package (never a CDN)
and each partner's theme files shipped beside its partner.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, abort, current_app, send_from_directory

from app.config import ROOT

blp = Blueprint("assets", __name__)


@blp.get("/api/v1/docs/assets/<path:filename>")
def swagger_asset(filename: str) -> Any:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)


@blp.get("/static/partners/<slug>/<path:filename>")
def partner_asset(slug: str, filename: str) -> Any:
    """Logos and other theme files; the partner definition itself is not served."""
    if filename.endswith((".yaml", ".yml")):
        abort(404)
    root = Path(current_app.config.get("PARTNERS_DIR", ROOT / "partners"))
    return send_from_directory(root / slug, filename)
