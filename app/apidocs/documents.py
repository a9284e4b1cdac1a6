"""The two published OpenAPI documents, cut from the one spec flask-smorest builds: the partner
API (what a partner's backend calls) and the operator API (the platform's own routes and the
suppliers' callbacks). Each keeps only the components it refers to."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from apispec import APISpec
from flask import Flask
from marshmallow import Schema

from app.apidocs import examples
from app.core.principal import PARTNER_PERMISSIONS
from app.webhooks.payloads import PAYLOADS

QUICKSTART = Path(__file__).with_name("quickstart.md")
PARTNER, PLATFORM = "partner", "platform"
PLATFORM_PREFIXES = ("/api/v1/platform/", "/callbacks/")
SHARED_PREFIXES = ("/oauth/",)
METHODS = ("get", "put", "post", "delete", "patch")

DESCRIPTIONS = {
    PARTNER: QUICKSTART.read_text(encoding="utf-8"),
    PLATFORM: (
        "The platform's own API: partners, clients, listings and quotas; suppliers, products,"
        " offers and card-key stock; settlement, invoices and margins. Tokens need the"
        " `platform` scope. Errors are `application/problem+json`; every code is in the"
        " [error catalog](/api/v1/docs/errors). The partner API is documented at"
        " [/api/v1/docs](/api/v1/docs)."
    ),
}
TITLES = {PARTNER: "Quanyi partner API", PLATFORM: "Quanyi operator API"}


def audience(path: str) -> set[str]:
    if path.startswith(SHARED_PREFIXES):
        return {PARTNER, PLATFORM}
    return {PLATFORM} if path.startswith(PLATFORM_PREFIXES) else {PARTNER}


def register_event_schemas(spec: APISpec) -> None:
    """The event payload schemas, as components the documents' `webhooks` refer to."""
    for schema in dict.fromkeys(schema for schema, _ in PAYLOADS.values()):
        spec.components.schema(schema.__name__, schema=schema)


def documents(app: Flask) -> dict[str, dict[str, Any]]:
    """Both documents, built once per app (the routes do not change while it runs)."""
    cached: dict[str, dict[str, Any]] | None = app.extensions.get("quanyi_api_documents")
    if cached is None:
        spec = app.extensions["quanyi_api"].spec.to_dict()
        recorded = examples.load()
        cached = {kind: document(spec, kind, recorded) for kind in (PARTNER, PLATFORM)}
        app.extensions["quanyi_api_documents"] = cached
    return cached


def document(
    spec: dict[str, Any], kind: str, recorded: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    doc = copy.deepcopy(spec)
    doc["info"] = {**doc["info"], "title": TITLES[kind], "description": DESCRIPTIONS[kind]}
    doc["paths"] = {path: ops for path, ops in doc["paths"].items() if kind in audience(path)}
    doc["webhooks"] = {
        event: webhook(event, schema)
        for event, (schema, receiver) in PAYLOADS.items()
        if receiver in (kind, "both")
    }
    used = _referenced_schemas(doc)
    components = doc["components"]
    components["schemas"] = {
        name: schema for name, schema in components.get("schemas", {}).items() if name in used
    }
    components.pop("responses", None)  # every error response is written out per operation
    for name in used - _referenced_schemas(doc, inputs_only=True):
        answer_members_required(components["schemas"][name])
    if kind == PARTNER:
        flows = components["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
        flows["scopes"] = {s: d for s, d in flows["scopes"].items() if s in PARTNER_PERMISSIONS}
    show_examples(doc, recorded)
    tags = {tag for op in operations(doc) for tag in op["tags"]}
    doc["tags"] = [tag for tag in doc.get("tags", []) if tag["name"] in tags]
    return doc


def webhook(event: str, schema: type[Schema]) -> dict[str, Any]:
    """The request we send to a partner's endpoint for `event`: signed, retried until a 2xx."""
    return {
        "post": {
            "operationId": "webhook_" + event.replace(".", "_"),
            "summary": f"`{event}` event",
            "description": (
                "Sent to every active endpoint that subscribed to the type. Verify"
                " `Quanyi-Signature` (t=<unix>,v1=<hex HMAC-SHA256 of `<t>.<raw body>`>) before"
                " trusting the body; answer any 2xx within 5 s, or it is retried with backoff."
                " The same event may arrive twice: deduplicate by `id`."
            ),
            "tags": ["webhook events"],
            "parameters": [
                {"in": "header", "name": name, "required": True, "schema": {"type": "string"}}
                for name in ("Quanyi-Signature", "Quanyi-Event-Id", "Quanyi-Event-Type")
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["id", "type", "created", "data"],
                            "properties": {
                                "id": {"type": "string", "description": "the event id (evt_…)"},
                                "type": {"type": "string", "const": event},
                                "created": {"type": "integer", "description": "unix time"},
                                "data": {"$ref": f"#/components/schemas/{schema.__name__}"},
                            },
                        }
                    }
                },
            },
            "responses": {"2XX": {"description": "Received. Anything else is retried."}},
        }
    }


def show_examples(doc: dict[str, Any], recorded: dict[str, dict[str, Any]]) -> None:
    """Each operation's recorded request body and JSON answer (app/apidocs/examples.py)."""
    for op in operations(doc):
        example = recorded.get(op["operationId"])
        if example is None:
            continue
        if example["request"] is not None:
            for media in op.get("requestBody", {}).get("content", {}).values():
                media["example"] = example["request"]
        for status, response in op["responses"].items():
            json_answer = response.get("content", {}).get("application/json")
            if status.startswith("2") and json_answer is not None:
                json_answer["example"] = example["response"]


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in doc["paths"].values() for m, op in item.items() if m in METHODS]


def answer_members_required(schema: dict[str, Any]) -> None:
    """A schema only answers carry, that says nothing of what is required: every member is
    always present (null when empty), so all are — generated clients then type them as present.
    (A schema with its own `required` list, like Problem, keeps it.)"""
    if "properties" in schema and "required" not in schema:
        schema["required"] = sorted(schema["properties"])


def _referenced_schemas(doc: dict[str, Any], inputs_only: bool = False) -> set[str]:
    """Schema names the paths (or only their request bodies and parameters) refer to, and
    those these refer to, transitively."""
    schemas = doc["components"].get("schemas", {})
    prefix = "#/components/schemas/"
    found: set[str] = set()
    if inputs_only:
        roots = [
            {key: op.get(key) for key in ("requestBody", "parameters")} for op in operations(doc)
        ]
        todo = [json.dumps(roots)]
    else:
        todo = [json.dumps([doc["paths"], doc.get("webhooks", {})])]
    while todo:
        text = todo.pop()
        for part in text.split('"$ref": "')[1:]:
            ref = part.split('"', 1)[0]
            name = ref.removeprefix(prefix)
            if ref.startswith(prefix) and name not in found and name in schemas:
                found.add(name)
                todo.append(json.dumps(schemas[name]))
    return found
