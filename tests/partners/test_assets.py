"""Partner theme files: served for a known partner's own folder, nothing else under the repo."""

from __future__ import annotations

import pytest

from tests.factories import make_partner

TRAVERSALS = [
    "/static/partners/../instance/vault_key",
    "/static/partners/../pyproject.toml",
    "/static/partners/%2e%2e/pyproject.toml",
    "/static/partners/%2E%2E/instance/secret_key",
    "/static/partners/%252e%252e/pyproject.toml",
    "/static/partners/jinhai-bank/../../pyproject.toml",
    "/static/partners/jinhai-bank/%2e%2e/%2e%2e/pyproject.toml",
    "/static/partners/jinhai-bank/..%2f..%2fpyproject.toml",
    "/static/partners/jinhai-bank/..%5c..%5cpyproject.toml",
    "/static/partners/..%5c/pyproject.toml",
    "/static/partners/jinhai-bank//etc/passwd",
    "/static/partners/jinhai-bank/%2fetc%2fpasswd",
    "/static/partners/..//etc/passwd",
    "/static/partners/jinhai-bank/../skyway-air/logo.svg",
    "/static/partners/jinhai-bank/partner.yaml",
    "/static/partners/jinhai-bank/logo.svg%00.yaml",
    "/static/partners/.git/config",
    "/static/partners/../.git/config",
]


@pytest.fixture
def bank(session):  # type: ignore[no-untyped-def]
    return make_partner(session, "jinhai-bank")


def test_a_known_partners_logo_is_served(client, bank):
    logo = client.get("/static/partners/jinhai-bank/logo.svg")
    assert logo.status_code == 200 and logo.mimetype == "image/svg+xml"


def test_a_theme_folder_without_a_partner_is_not_served(client, bank):
    # skyway-air has a folder under partners/ but is no partner in this database
    assert client.get("/static/partners/skyway-air/logo.svg").status_code == 404


@pytest.mark.parametrize("url", TRAVERSALS)
def test_no_spelling_of_a_path_escapes_the_partners_theme_folder(client, bank, url, repo_root):
    answer = client.get(url)
    assert answer.status_code in (404, 422), url
    body = answer.get_data()
    assert b"[project]" not in body and b"root:" not in body and b"[core]" not in body
