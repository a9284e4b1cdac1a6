"""Every error code the API can answer is in the catalog, with the status it is answered with,
and the catalog's page has an anchor for each (problems' `type` links there)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import errors as rfc6749
from authlib.oauth2.rfc6750 import errors as rfc6750

import app as app_package
from app.core.error_catalog import CATALOG
from app.core.errors import HTTP_CODES, DomainError

APP = Path(app_package.__file__).parent
# Authlib errors of flows this server does not run (authorization code, client-side checks)
NOT_OURS = {
    "mismatching_state",
    "missing_code",
    "missing_token",
    "missing_token_type",
    "unsupported_response_type",
    "missing_authorization",  # answered as `unauthorized` (app/auth/oauth.py)
}


def _raised_in_source() -> dict[str, str]:
    """code → where: `code = "..."` in a class body, and the first argument of `problem(...)`
    and of `raises(...)`-style string codes, anywhere under app/."""
    found: dict[str, str] = {}
    for path in APP.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(APP.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    targets = getattr(statement, "targets", [])
                    if any(isinstance(t, ast.Name) and t.id == "code" for t in targets) and (
                        isinstance(statement.value, ast.Constant)
                    ):
                        found[statement.value.value] = where
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "problem"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found[node.args[0].value] = where
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "code" for t in node.targets
            ):
                for constant in ast.walk(node.value):
                    if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                        found[constant.value] = where
    return found


def test_every_code_raised_in_the_source_is_catalogued():
    raised = _raised_in_source()
    assert len(raised) > 40  # the walk finds the codes at all
    missing = {code: where for code, where in raised.items() if code not in CATALOG}
    assert not missing, f"add these codes to app/core/error_catalog.py: {missing}"


def test_http_and_oauth_codes_are_catalogued():
    authlib_codes = {
        cls.error
        for module in (rfc6749, rfc6750)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, OAuth2Error) and cls.error
    }
    expected = set(HTTP_CODES.values()) | (authlib_codes - NOT_OURS)
    assert expected - set(CATALOG) == set()


def _all_subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_all_subclasses(sub))]


def test_domain_errors_answer_the_catalogs_status_and_title():
    errors = _all_subclasses(DomainError)
    assert len(errors) > 30
    for error in errors:
        entry = CATALOG[error.code]
        assert (error.status, error.title) == (entry.status, entry.title), error


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/orders"])
def test_a_problems_type_links_to_its_row_of_the_served_catalog(client, path):
    problem = client.get(path).get_json()
    page, anchor = problem["type"].split("#")
    html = client.get(page).get_data(as_text=True)
    assert f'id="{anchor}"' in html and anchor == problem["code"]


def test_the_catalog_page_lists_every_code_once(client):
    html = client.get("/api/v1/docs/errors").get_data(as_text=True)
    for code, entry in CATALOG.items():
        assert html.count(f'id="{code}"') == 1, code
        assert entry.meaning and entry.action and entry.title
