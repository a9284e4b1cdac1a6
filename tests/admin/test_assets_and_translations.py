"""The pages' vendored assets are the pinned packages' files, and every string the portal
shows has its zh-CN translation."""

from __future__ import annotations

import hashlib
import json

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po


def test_vendored_assets_match_their_pinned_packages(repo_root, client):
    static = repo_root / "app" / "static"
    manifest = json.loads((static / "vendor.json").read_text(encoding="utf-8"))
    for package, pinned in manifest.items():
        for target in pinned["files"].values():
            content = (static / target["path"]).read_bytes()
            assert hashlib.sha256(content).hexdigest() == target["sha256"], (
                f"{target['path']} is not {package}@{pinned['version']}: run 'make vendor'"
            )
    served = client.get("/static/vendor/htmx.min.js")
    assert served.status_code == 200 and served.headers["X-Content-Type-Options"] == "nosniff"


def test_every_portal_string_is_translated_to_chinese(repo_root):
    catalog_path = repo_root / "app/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
    with catalog_path.open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    method_map = [("app/**.py", "python"), ("app/**/templates/**.html", "jinja2")]
    shown = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(repo_root),
            method_map=method_map,
            keywords={"_": None, "gettext": None, "_l": None, "ngettext": (1, 2)},
        )
    }
    missing = sorted(shown - translated)
    assert not missing, "untranslated (run 'make messages', then translate):\n" + "\n".join(missing)
