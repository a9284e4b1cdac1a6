"""Each partner's theme files (logo, styles, fonts), shipped beside its partner.yaml.

They are the only files of the repository served from disk, so their route admits only a known
partner's own folder and an allow-list of asset types: keys and the database live under
instance/, which no URL can reach (whatever the spelling of `..`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, send_from_directory
from sqlalchemy import select

from app.config import ROOT
from app.extensions import db
from app.partners.models import Partner

blp = Blueprint("partner_assets", __name__)

THEME_ASSET_TYPES = frozenset(
    {".svg", ".png", ".jpg", ".jpeg", ".webp", ".gif", ".ico", ".css", ".woff", ".woff2"}
)


def theme_file(partners_dir: Path, slug: str, filename: str) -> Path | None:
    """The theme file `filename` of partner folder `slug`, or None unless it is a file of an
    allowed type lying (after resolving links and `..`) inside that folder."""
    root = partners_dir.resolve()
    folder = (root / slug).resolve()
    if folder.parent != root:
        return None
    path = (folder / filename).resolve()
    if not path.is_relative_to(folder) or path.suffix.lower() not in THEME_ASSET_TYPES:
        return None
    return path if path.is_file() else None


def partners_dir() -> Path:
    return Path(current_app.config.get("PARTNERS_DIR", ROOT / "partners"))


def partner_logo(partner: Partner) -> Path | None:
    """The file of the partner's logo, when its `logo_url` is one of its own theme files."""
    prefix = f"/static/partners/{partner.slug}/"
    logo_url = (partner.branding or {}).get("logo_url") or ""
    if not logo_url.startswith(prefix):
        return None
    return theme_file(partners_dir(), partner.slug, logo_url.removeprefix(prefix))


@blp.get("/static/partners/<slug>/<path:filename>")
def partner_asset(slug: str, filename: str) -> Any:
    """A theme file of an existing partner; anything else answers 404."""
    if db.session.scalar(select(Partner.id).where(Partner.slug == slug)) is None:
        abort(404)
    path = theme_file(partners_dir(), slug, filename)
    if path is None:
        abort(404)
    return send_from_directory(path.parent, path.name)
