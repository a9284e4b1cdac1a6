"""Schemathesis over the two OpenAPI documents we publish, the partner API with a partner
token and the operator API with an operator token: for every operation, whatever a client
sends that the spec allows (and, in negative mode, what it does not), the answer is never a
5xx, its body matches the published schema, and every error is application/problem+json."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from app.apidocs.documents import PARTNER, PLATFORM, documents, operations

EXAMPLES = 10
SEED = 20261202


@pytest.mark.parametrize(
    ("kind", "document", "who"),
    [
        (PARTNER, "/api/v1/openapi.json", "api_a"),
        (PLATFORM, "/api/v1/platform/openapi.json", "platform"),
    ],
)
def test_no_operation_answers_5xx_or_a_non_problem_error(app, request, kind, document, who):
    token = request.getfixturevalue(who).token
    schema = schemathesis.openapi.from_wsgi(document, app)
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "fuzz"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            # the same cases every run, wherever the clone lies (with derandomize, a clone in
            # another folder drew other cases), so a red CI is reproducible here
            @seed(SEED)
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case) -> None:
                response = case.call(headers=headers)  # noqa: B023 - called in this iteration
                where = (case.method, case.formatted_path, response.status_code)
                assert response.status_code < 500, (*where, response.text[:300])
                case.validate_response(
                    response, checks=(not_a_server_error, response_schema_conformance)
                )
                if response.status_code >= 400:
                    content_type = response.headers.get("content-type", [""])[0]
                    assert content_type.startswith("application/problem+json"), where

            try:
                call()
            except Unsatisfiable:  # nothing invalid to send to this operation
                assert mode is GenerationMode.NEGATIVE, operation.label
        checked += 1
    assert checked == len(operations(documents(app)[kind]))
