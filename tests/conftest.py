"""Test setup: one app per run, the schema built by the Alembic migrations, and every test
inside an outer transaction that is rolled back (tests marked `postgres` commit for real and
the tables are emptied afterwards).

By default the suite runs on SQLite. With TEST_DATABASE_URL (and TEST_REDIS_URL) it runs on
PostgreSQL and Redis, and the `postgres` tests run instead of being skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from app import create_app
from app.config import normalize_database_url
from app.core.cli import alembic_config
from app.core.db import Base
from app.core.logging import JsonFormatter
from app.extensions import db as database
from app.invariants import ledger_problems
from app.webhooks.models import Event
from app.webhooks.payloads import PAYLOADS
from tests import web_stub
from tests.factories import PLAINTEXT_CODES, ApiUser, make_client, make_partner

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TEST_DATABASE_URL:
        return
    if REQUIRE_SERVICES:
        raise pytest.UsageError("REQUIRE_SERVICES=1 but TEST_DATABASE_URL is not set")
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    if TEST_DATABASE_URL:
        url = normalize_database_url(TEST_DATABASE_URL)
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    flask_app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "REDIS_URL": TEST_REDIS_URL,
            "RATELIMIT_STORAGE_URI": TEST_REDIS_URL or "memory://",
            "ARGON2_PROFILE": "cheapest",
            "EMBEDDED_WORKER": False,  # tests run queued jobs explicitly (app.core.queue.drain)
            "QUEUE_PREFIX": "test-",
            "WEBHOOK_DISPATCH_PAUSE": 0,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": True,  # receivers listen on loopback
        }
    )
    web_stub.install(flask_app)
    with flask_app.app_context():
        command.upgrade(alembic_config(url), "head")
    yield flask_app
    database.engine.dispose()  # type: ignore[union-attr]


def _empty_all_tables() -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:  # type: ignore[union-attr]
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(JsonFormatter().format(record))


@pytest.fixture(scope="session", autouse=True)
def no_plaintext_code_in_logs(app: Flask) -> Iterator[None]:
    """Every log line of the whole run is kept; no plaintext code the tests made may appear."""
    collector = _LogCollector()
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(collector)
    yield
    root.removeHandler(collector)
    root.setLevel(previous)
    text = "\n".join(collector.lines)
    assert collector.lines or not PLAINTEXT_CODES, "the log collector saw nothing"
    leaked = [code for code in PLAINTEXT_CODES if code in text]
    assert not leaked, f"{len(leaked)} plaintext code(s) appear in the logs"


@pytest.fixture(autouse=True)
def app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture(autouse=True)
def session(request: pytest.FixtureRequest, app: Flask) -> Iterator[Session]:
    """The test's database session (the same thread-scoped session the requests use)."""
    database.session.remove()
    if request.node.get_closest_marker("postgres"):
        try:
            yield database.session()
            _assert_books_balance(request)
        finally:
            database.session.remove()
            _empty_all_tables()
        return
    conn = database.engine.connect()  # type: ignore[union-attr]
    outer = conn.begin()
    database.session.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield database.session()
        _assert_books_balance(request)
    finally:
        database.session.remove()
        outer.rollback()
        conn.close()
        database.session.configure(
            bind=database.engine, join_transaction_mode="conditional_savepoint"
        )


def _assert_books_balance(request: pytest.FixtureRequest) -> None:
    """After every test, whatever it did: each points ledger and partner account balances
    (`flask invariants check`), and every event it recorded has the payload its type
    publishes (app/webhooks/payloads.py)."""
    database.session.rollback()  # what the test left uncommitted is not the books
    problems = ledger_problems(database.session())
    assert not problems, "ledgers out of balance:\n" + "\n".join(problems)
    for event in database.session().scalars(select(Event)):
        schema, _ = PAYLOADS[event.type]
        assert schema().validate(event.data) == {}, (event.type, event.data)


@pytest.fixture(autouse=True)
def no_authentication_lockouts(app: Flask) -> None:
    """Every test's client authenticates from 127.0.0.1: failures another test counted (a
    wrong secret on purpose) must not lock this one out (app.auth.lockout)."""
    from app.core.queue import redis_connection

    conn = redis_connection(app)
    for key in conn.scan_iter("auth-fail:*"):
        conn.delete(key)


@pytest.fixture
def empty_queues(app: Flask) -> None:
    """Tests that run jobs start from empty queues (Redis is shared between tests), with no
    job scheduled by an earlier test (it may be due by now) and no coalescing flag left by a
    job that an emptied queue lost."""
    from app.core.queue import QUEUES, coalesce_key, get_queue, redis_connection
    from app.webhooks.outbox import DISPATCH

    for name in QUEUES:
        queue = get_queue(name, app)
        queue.empty()
        for job_id in queue.scheduled_job_registry.get_job_ids():
            queue.scheduled_job_registry.remove(job_id)
    redis_connection(app).delete(coalesce_key(app, DISPATCH))


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def partner_a(session: Session):  # type: ignore[no-untyped-def]
    return make_partner(session, "partner-a")


@pytest.fixture
def partner_b(session: Session):  # type: ignore[no-untyped-def]
    return make_partner(session, "partner-b")


@pytest.fixture
def api_a(client, session, partner_a) -> ApiUser:  # type: ignore[no-untyped-def]
    return ApiUser.login(client, make_client(session, partner_a))


@pytest.fixture
def api_b(client, session, partner_b) -> ApiUser:  # type: ignore[no-untyped-def]
    return ApiUser.login(client, make_client(session, partner_b))


@pytest.fixture
def platform(client, session) -> ApiUser:  # type: ignore[no-untyped-def]
    return ApiUser.login(client, make_client(session, None))


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
