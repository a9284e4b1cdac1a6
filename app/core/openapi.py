"""What the OpenAPI documents say beyond what flask-smorest derives from the schemas: a stable
`operationId` per operation, and every error it can answer, by status, with its codes from the
error catalog (as `application/problem+json`, with an example per code).

Most errors follow from the operation's shape (a token → 401/403, a path id → 404, input → 422,
an Idempotency-Key → the idempotency codes); a route names the others with `@raises(...)`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from apispec import BasePlugin
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.core.error_catalog import CATALOG
from app.core.errors import RETRY_AFTER_STATUSES, DomainError, problem_body

PROBLEM_JSON = "application/problem+json"
RAISES = "x-raises"

# what every operation may answer, whatever it does (every documented route is rate-limited)
ALWAYS = ("rate_limited", "internal_error", "retry", "dependency_down", "transaction_failed")
AUTHENTICATED = ("unauthorized", "invalid_token", "insufficient_scope", "partner_suspended")
WITH_INPUT = ("validation_error",)
WITH_BODY = ("malformed_json", "json_too_deep", "unsupported_media_type")
WITH_PATH_ID = ("not_found",)
IDEMPOTENT = ("idempotency_key_required", "idempotency_key_reused", "idempotency_in_progress")


class Computed(fields.Function):
    """A value computed at dump time, documented as `schema` describes it (a plain Function
    field is untyped in OpenAPI, and generated clients get a bare dict)."""

    def __init__(self, serialize: Callable[[Any], Any], schema: type[Schema], **kwargs: Any):
        super().__init__(serialize, dump_only=True, **kwargs)
        self.documented_as = schema


def computed2properties(self: Any, field: fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: a Computed field refers to its schema."""
    if isinstance(field, Computed):
        ref: dict[str, Any] = self.resolve_nested_schema(field.documented_as)
        return ref
    return {}


def raises(*errors: type[DomainError] | str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document the domain errors a route may answer besides those its shape implies."""
    codes = [e if isinstance(e, str) else e.code for e in errors]
    unknown = [c for c in codes if c not in CATALOG]
    if unknown:
        raise ValueError(f"codes missing from the error catalog: {unknown}")
    documented: Callable[[Callable[..., Any]], Callable[..., Any]] = Blueprint.doc(
        **{RAISES: codes}
    )
    return documented


def operation_id(endpoint: str) -> str:
    """`orders.place_order` → `orders_place_order`: stable while the view keeps its name."""
    return endpoint.replace(".", "_")


def error_codes(operation: dict[str, Any], has_path_id: bool) -> list[str]:
    """Every code the operation may answer, in catalog order."""
    codes = set(ALWAYS) | set(operation.pop(RAISES, ()))
    parameters = operation.get("parameters", [])
    if any("oauth2" in requirement for requirement in operation.get("security", [])):
        codes |= set(AUTHENTICATED)
    if "requestBody" in operation:
        codes |= set(WITH_INPUT) | set(WITH_BODY)
    if any(p.get("in") == "query" for p in parameters):
        codes |= set(WITH_INPUT)
    if has_path_id:
        codes |= set(WITH_PATH_ID)
    if any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in parameters):
        codes |= set(IDEMPOTENT)
    return [code for code in CATALOG if code in codes]


def error_responses(codes: Iterable[str]) -> dict[str, Any]:
    """One response per status: its codes in the description, an example body per code."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_status[CATALOG[code].status].append(code)
    responses: dict[str, Any] = {}
    for status in sorted(by_status):
        listed = by_status[status]
        response: dict[str, Any] = {
            "description": "; ".join(f"`{c}`: {CATALOG[c].title}" for c in listed),
            "content": {
                PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "examples": {c: {"value": example_problem(c)} for c in listed},
                }
            },
        }
        if status in RETRY_AFTER_STATUSES:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            }
        responses[str(status)] = response
    return responses


def example_problem(code: str) -> dict[str, Any]:
    return problem_body(code, CATALOG[code].meaning)


class ErrorDocsPlugin(BasePlugin):
    """Runs as flask-smorest registers each route in the spec (apispec's operation helper)."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule = kwargs.get("rule")
        if rule is None or operations is None:
            return
        methods = [m for m in operations if m != "parameters"]
        for method in methods:
            operation = operations[method]
            suffix = f"_{method}" if len(methods) > 1 else ""
            operation.setdefault("operationId", operation_id(rule.endpoint) + suffix)
            responses = operation.setdefault("responses", {})
            # flask-smorest's generic error references (application/json) give way to ours
            responses.pop("default", None)
            responses.pop("422", None)
            responses.update(error_responses(error_codes(operation, bool(rule.arguments))))
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    not_null(parameter["schema"])


def not_null(schema: dict[str, Any]) -> None:
    """A query parameter is absent or a string, never null: marshmallow's `load_default=None`
    documents it as nullable, which generators turn into a union of types."""
    if isinstance(schema.get("type"), list):
        kinds = [t for t in schema["type"] if t != "null"]
        schema["type"] = kinds[0] if len(kinds) == 1 else kinds
    if "enum" in schema:
        schema["enum"] = [value for value in schema["enum"] if value is not None]
    if "default" in schema and schema["default"] is None:
        del schema["default"]
