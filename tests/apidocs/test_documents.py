"""The two published OpenAPI documents: valid, complete for every route, with what a client
generator needs (operation ids, summaries, descriptions, problem+json errors with their codes)."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.apidocs.documents import PARTNER, PLATFORM, audience, documents, operations
from app.core.error_catalog import CATALOG

KINDS = (PARTNER, PLATFORM)


@pytest.mark.parametrize("kind", KINDS)
def test_the_document_is_valid_openapi(app, kind):
    validate(documents(app)[kind])


def test_every_api_route_is_in_exactly_the_documents_of_its_audience(app):
    docs = documents(app)
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("apidocs.", "static", "health", "partner_assets")):
            continue
        if not rule.rule.startswith(("/api/", "/oauth/", "/callbacks/")):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for kind in KINDS:
            listed = path in docs[kind]["paths"]
            assert listed == (kind in audience(path)), (kind, path)


def test_operation_ids_are_unique_and_every_operation_is_described(app):
    seen: dict[str, str] = {}
    for kind in KINDS:
        for op in operations(documents(app)[kind]):
            op_id = op["operationId"]
            assert seen.setdefault(op_id, kind) == kind or op_id.startswith("oauth_"), op_id
            assert op.get("summary"), f"{op_id}: no summary (first docstring line)"
            assert op.get("description"), f"{op_id}: no description (docstring after a blank)"


@pytest.mark.parametrize("kind", KINDS)
def test_errors_are_problem_json_with_catalogued_codes(app, kind):
    problem = documents(app)[kind]["components"]["schemas"]["Problem"]
    assert problem["additionalProperties"] is True  # error-specific members survive clients
    for op in operations(documents(app)[kind]):
        statuses = {int(s) for s in op["responses"] if s != "default"}
        assert 500 in statuses and 503 in statuses and 429 in statuses, op["operationId"]
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            content = response["content"]
            assert list(content) == ["application/problem+json"], (op["operationId"], status)
            for code, example in content["application/problem+json"]["examples"].items():
                assert CATALOG[code].status == int(status) == example["value"]["status"]


def test_operations_document_what_their_shape_implies(app):
    by_id = {op["operationId"]: op for kind in KINDS for op in operations(documents(app)[kind])}

    def codes(op_id: str, status: int) -> set[str]:
        response = by_id[op_id]["responses"][str(status)]
        return set(response["content"]["application/problem+json"]["examples"])

    order = "orders_place_order"
    assert {"unauthorized", "invalid_token"} <= codes(order, 401)
    assert {"insufficient_scope", "partner_suspended"} <= codes(order, 403)
    assert "idempotency_in_progress" in codes(order, 409)
    assert {"validation_error", "idempotency_key_reused", "payment_mismatch"} <= codes(order, 422)
    assert "out_of_stock" in codes(order, 409)
    assert "not_found" in codes("orders_get_order", 404)
    assert "404" not in by_id["orders_list_orders"]["responses"]


def test_the_partner_document_holds_no_operator_route_or_scope(app):
    doc = documents(app)[PARTNER]
    assert not [p for p in doc["paths"] if p.startswith(("/api/v1/platform/", "/callbacks/"))]
    scopes = doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert "platform" not in scopes["scopes"]
    assert "Idempotency" in doc["info"]["description"]


def test_documents_and_pages_are_served_from_local_assets(client):
    for spec_url, page in (
        ("/api/v1/openapi.json", "/api/v1/docs"),
        ("/api/v1/platform/openapi.json", "/api/v1/platform/docs"),
    ):
        assert client.get(spec_url).get_json()["openapi"] == "3.1.0"
        html = client.get(page).get_data(as_text=True)
        assert f'data-spec-url="{spec_url}"' in html
        links = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert links and all(link.startswith("/") and not link.startswith("//") for link in links)
    bundle = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and b"SwaggerUIBundle" in bundle.data[:2000]


def _validator(doc: dict, schema: dict) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) resolving the document's refs."""
    return Draft202012Validator({**schema, "components": doc["components"]})


def test_every_partner_operation_shows_examples_its_schemas_accept(app):
    doc = documents(app)[PARTNER]
    checked = 0
    for op in operations(doc):
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            assert "example" in media, (op["operationId"], "request", media_type)
            if media_type == "application/json":
                errors = list(_validator(doc, media["schema"]).iter_errors(media["example"]))
                assert not errors, (op["operationId"], "request", errors[0].message)
                checked += 1
        for status, response in op["responses"].items():
            answer = response.get("content", {}).get("application/json")
            if not status.startswith("2") or answer is None:
                continue
            assert "example" in answer, (op["operationId"], status)
            errors = list(_validator(doc, answer["schema"]).iter_errors(answer["example"]))
            assert not errors, (op["operationId"], status, errors[0].message)
            checked += 1
    assert checked >= 30
