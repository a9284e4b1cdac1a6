"""Swagger UI's assets, served from its Python package (never a CDN)."""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from flask import Blueprint, send_from_directory

blp = Blueprint("assets", __name__)


@blp.get("/api/v1/docs/assets/<path:filename>")
def swagger_asset(filename: str) -> Any:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
