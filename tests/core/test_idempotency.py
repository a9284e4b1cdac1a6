"""Idempotency-Key on value-creating POSTs (here: the platform creating a partner)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select, text

from app.core.audit import AuditLog
from app.core.idempotency import IdempotencyRecord
from app.partners.models import Partner
from tests.core.test_errors import _partner_json


def _create(platform, slug: str, key: str | None, **overrides):
    headers = {"Idempotency-Key": key} if key else {}
    return platform.post(
        "/api/v1/platform/partners", json={**_partner_json(slug), **overrides}, headers=headers
    )


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_missing_key_is_400(platform):
    response = _create(platform, "p-nokey", None)
    assert response.status_code == 400
    assert response.get_json()["code"] == "idempotency_key_required"


def test_same_key_same_body_replays_without_second_effect(platform, session):
    first = _create(platform, "p-replay", "key-1")
    second = _create(platform, "p-replay", "key-1")
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert second.get_json() == first.get_json()
    assert _count(session, Partner, Partner.slug == "p-replay") == 1
    assert (
        _count(
            session,
            AuditLog,
            AuditLog.action == "partner.created",
            AuditLog.target_id == first.get_json()["id"],
        )
        == 1
    )


def test_key_order_in_json_does_not_matter(platform):
    first = _create(platform, "p-order", "key-o")
    body = dict(reversed(list(_partner_json("p-order").items())))
    second = platform.post(
        "/api/v1/platform/partners", json=body, headers={"Idempotency-Key": "key-o"}
    )
    assert second.status_code == 201
    assert second.get_json()["id"] == first.get_json()["id"]


def test_same_key_different_body_is_422(platform, session):
    assert _create(platform, "p-reuse", "key-2").status_code == 201
    response = _create(platform, "p-reuse-other", "key-2")
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_reused"
    assert _count(session, Partner, Partner.slug == "p-reuse-other") == 0


def test_failed_request_stores_nothing_so_key_can_be_retried(platform, session):
    bad = _create(platform, "p-retry", "key-3", kind="bakery")
    assert bad.status_code == 422
    assert _count(session, IdempotencyRecord, IdempotencyRecord.key == "key-3") == 0
    assert _create(platform, "p-retry", "key-3").status_code == 201


def test_keys_are_scoped_per_client(client, session):
    from tests.factories import ApiUser, make_client

    one = ApiUser.login(client, make_client(session, None))
    two = ApiUser.login(client, make_client(session, None))
    assert _create(one, "p-scope-1", "shared").status_code == 201
    response = _create(two, "p-scope-2", "shared")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers


@pytest.mark.postgres
def test_key_held_by_a_running_request_answers_409_in_progress(app, platform, session):
    """Another transaction holds the key's lock (a first request still running)."""
    from app.core.idempotency import lock_and_find
    from app.extensions import db

    scope = f"client:{platform.creds.client_id}"
    holder = db.engine.connect()
    try:
        with holder.begin():
            from sqlalchemy.orm import Session

            assert lock_and_find(Session(bind=holder), scope, "busy-key") == (True, None)
            response = _create(platform, "p-busy", "busy-key")
    finally:
        holder.close()
    assert response.status_code == 409
    assert response.get_json()["code"] == "idempotency_in_progress"
    assert _count(db.session(), Partner, Partner.slug == "p-busy") == 0


@pytest.mark.postgres
def test_a_first_request_committing_after_the_read_keeps_the_only_effect(
    app, platform, session, monkeypatch
):
    """The key's lock and record are read in one statement, whose snapshot precedes the lock: a
    first request that commits in that gap is not seen. Here the first request's record commits
    while the second runs; the second must then keep nothing of its effect and answer 409."""
    from app.core import idempotency
    from app.extensions import db

    real_lock_and_find = idempotency.lock_and_find

    def first_commits_in_the_gap(session, scope_, key):
        found = real_lock_and_find(session, scope_, key)
        with db.engine.begin() as other:  # the first request, committing just after the read
            other.execute(
                idempotency.IdempotencyRecord.__table__.insert(),
                {
                    "id": "idk_first",
                    "scope": scope_,
                    "key": key,
                    "request_hash": idempotency.request_fingerprint(
                        "POST",
                        "/api/v1/platform/partners",
                        json.dumps(_partner_json("p-gap")).encode(),
                    ),
                    "method": "POST",
                    "path": "/api/v1/platform/partners",
                    "response_status": 201,
                    "response_body": "{}",
                    "response_headers": {},
                    "created_at": idempotency.utcnow(),
                    "expires_at": idempotency.utcnow() + idempotency.RETENTION,
                },
            )
        return found

    monkeypatch.setattr(idempotency, "lock_and_find", first_commits_in_the_gap)
    response = _create(platform, "p-gap", "gap-key")
    monkeypatch.undo()
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["code"] == "idempotency_in_progress"
    replay = _create(platform, "p-gap", "gap-key")  # the retry reads the first one's answer
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
    db.session.remove()
    check = db.session()
    assert _count(check, Partner, Partner.slug == "p-gap") == 0
    assert _count(check, IdempotencyRecord, IdempotencyRecord.key == "gap-key") == 1
    assert _count(check, AuditLog, AuditLog.action == "partner.created") == 0


@pytest.mark.postgres
def test_concurrent_identical_requests_have_one_effect(app, session):
    from app.extensions import db
    from tests.factories import ApiUser, make_client

    creds = make_client(session, None)
    token = ApiUser.login(app.test_client(), creds).token
    barrier = threading.Barrier(8)
    statuses: list[tuple[int, str | None]] = []

    def attempt() -> None:
        http = app.test_client()
        barrier.wait()
        response = http.post(
            "/api/v1/platform/partners",
            json=_partner_json("p-race"),
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "race"},
        )
        body = response.get_json()
        statuses.append(
            (response.status_code, body.get("code") if response.status_code >= 400 else None)
        )

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.session.remove()
    check = db.session()
    assert _count(check, Partner, Partner.slug == "p-race") == 1
    assert check.scalar(text("SELECT count(*) FROM audit_log WHERE action='partner.created'")) == 1
    assert all(s == 201 or (s, c) == (409, "idempotency_in_progress") for s, c in statuses), (
        statuses
    )
    assert sum(1 for s, _ in statuses if s == 201) >= 1


def test_purge_removes_only_expired_records(app, platform, session):
    from datetime import timedelta

    from app.core.db import utcnow

    _create(platform, "p-old", "old-key")
    _create(platform, "p-new", "new-key")
    old = session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == "old-key")).one()
    old.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    result = app.test_cli_runner().invoke(args=["idempotency", "purge"])
    assert "purged 1 " in result.output
    keys = set(session.scalars(select(IdempotencyRecord.key)))
    assert "old-key" not in keys and "new-key" in keys
