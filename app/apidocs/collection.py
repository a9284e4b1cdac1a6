"""A Postman collection (v2.1, also read by Bruno and Insomnia) generated from a published
OpenAPI document: one request per operation, grouped by tag, authenticated by the collection's
OAuth2 client-credentials settings, with an Idempotency-Key where the operation needs one."""

from __future__ import annotations

import re
from typing import Any

from app.apidocs.documents import METHODS

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
VARIABLES = {
    "baseUrl": "http://127.0.0.1:5000",
    "clientId": "",
    "clientSecret": "",
}


def collection(doc: dict[str, Any]) -> dict[str, Any]:
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                folders.setdefault(op["tags"][0], []).append(request(path, method, op))
    return {
        "info": {
            "name": doc["info"]["title"],
            "description": "Generated from the OpenAPI document; regenerate, do not edit.",
            "schema": SCHEMA,
        },
        "auth": {
            "type": "oauth2",
            "oauth2": [
                {"key": "grant_type", "value": "client_credentials", "type": "string"},
                {"key": "accessTokenUrl", "value": "{{baseUrl}}/oauth/token", "type": "string"},
                {"key": "clientId", "value": "{{clientId}}", "type": "string"},
                {"key": "clientSecret", "value": "{{clientSecret}}", "type": "string"},
                {"key": "client_authentication", "value": "header", "type": "string"},
            ],
        },
        "variable": [{"key": k, "value": v} for k, v in VARIABLES.items()],
        "item": [{"name": tag, "item": requests} for tag, requests in folders.items()],
    }


def request(path: str, method: str, op: dict[str, Any]) -> dict[str, Any]:
    segments = [re.sub(r"^\{(.+)\}$", r":\1", s) for s in path.strip("/").split("/")]
    parameters = op.get("parameters", [])
    headers = [
        {"key": p["name"], "value": "{{$guid}}" if p["name"] == "Idempotency-Key" else ""}
        for p in parameters
        if p["in"] == "header"
    ]
    query = [
        {"key": p["name"], "value": "", "disabled": not p.get("required", False)}
        for p in parameters
        if p["in"] == "query"
    ]
    built: dict[str, Any] = {
        "method": method.upper(),
        "header": headers,
        "url": {
            "raw": "{{baseUrl}}/" + "/".join(segments),
            "host": ["{{baseUrl}}"],
            "path": segments,
            "query": query,
            "variable": [{"key": s[1:], "value": ""} for s in segments if s.startswith(":")],
        },
        "description": op.get("description", ""),
    }
    if "application/json" in op.get("requestBody", {}).get("content", {}):
        built["header"].append({"key": "Content-Type", "value": "application/json"})
        built["body"] = {"mode": "raw", "raw": "{}", "options": {"raw": {"language": "json"}}}
    return {"name": f"{op['summary'].rstrip('.')} ({op['operationId']})", "request": built}
