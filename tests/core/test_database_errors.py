"""What the database's refusals look like to a client: a lost lock race is run once more when
the request is idempotent, else a 503 `retry`; an unreachable database is a 503
`dependency_down`. Never a 500."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from app.partners import service as partner_service


def _failing(times: int, orig: Exception):  # type: ignore[no-untyped-def]
    calls = {"n": 0}
    real = partner_service.get_partner

    def get_partner(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] <= times:
            raise OperationalError("SELECT 1", {}, orig)
        return real(*args, **kwargs)

    return get_partner, calls


def test_a_deadlock_is_run_once_more_for_an_idempotent_request(api_a, monkeypatch):
    fake, calls = _failing(1, psycopg.errors.DeadlockDetected("deadlock detected"))
    monkeypatch.setattr(partner_service, "get_partner", fake)
    answer = api_a.get("/api/v1/partner")
    assert answer.status_code == 200 and calls["n"] == 2


def test_a_second_serialization_failure_answers_503_retry(api_a, monkeypatch):
    failure = psycopg.errors.SerializationFailure("could not serialize access")
    fake, calls = _failing(2, failure)
    monkeypatch.setattr(partner_service, "get_partner", fake)
    answer = api_a.get("/api/v1/partner")
    assert answer.status_code == 503 and calls["n"] == 2
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == "retry" and int(answer.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("orig", [psycopg.OperationalError("connection refused")])
def test_an_unreachable_database_answers_503_dependency_down(api_a, monkeypatch, orig):
    fake, _ = _failing(5, orig)
    monkeypatch.setattr(partner_service, "get_partner", fake)
    answer = api_a.get("/api/v1/partner")
    assert answer.status_code == 503 and answer.get_json()["code"] == "dependency_down"
    assert int(answer.headers["Retry-After"]) > 0
