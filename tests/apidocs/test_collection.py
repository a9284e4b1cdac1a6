"""The Postman/Bruno collection is generated from each document: every operation once, at its
method and path, with the client-credentials auth and an Idempotency-Key where needed."""

from __future__ import annotations

import pytest

from app.apidocs.collection import collection
from app.apidocs.documents import PARTNER, PLATFORM, documents, operations


@pytest.mark.parametrize("kind", [PARTNER, PLATFORM])
def test_every_operation_is_one_request_of_the_collection(app, kind):
    doc = documents(app)[kind]
    made = collection(doc)
    requests = [r for folder in made["item"] for r in folder["item"]]
    expected = {
        (method.upper(), path.replace("{", ":").replace("}", ""))
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    found = [
        (r["request"]["method"], "/" + "/".join(r["request"]["url"]["path"])) for r in requests
    ]
    assert sorted(found) == sorted(expected)
    assert len(requests) == len(operations(doc))
    assert {"key": "grant_type", "value": "client_credentials", "type": "string"} in (
        made["auth"]["oauth2"]
    )
    place = (
        next(r for r in requests if "orders_place_order" in r["name"]) if kind == PARTNER else None
    )
    if place:
        assert {"key": "Idempotency-Key", "value": "{{$guid}}"} in place["request"]["header"]
