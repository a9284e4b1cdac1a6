"""Dependency outages under a running server: Redis or PostgreSQL cut off in the middle of
traffic (a TCP proxy in front of each is closed, connections and all) and brought back. The
API never answers 500: without Redis it keeps serving (rate limits counted in memory), without
the database it answers 503 `dependency_down` with Retry-After, and both recover by
themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.extensions import db
from tests.e2e.conftest import _free_port, _wait_until_up
from tests.factories import basic_auth, make_client, make_partner
from tests.netproxy import TcpProxy

pytestmark = pytest.mark.postgres


def _call(port: int, path: str, token: str | None = None, form: dict | None = None, auth=None):
    data = None if form is None else "&".join(f"{k}={v}" for k, v in form.items()).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (auth or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


@pytest.fixture
def served(app, tmp_path):
    session = db.session()
    partner = make_partner(session, "outage-partner")
    creds = make_client(session, partner)
    db_url = make_url(app.config["DATABASE_URL"])
    redis_port = int(app.config["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    database, redis = TcpProxy(db_url.port or 5432), TcpProxy(redis_port)
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "DATABASE_URL": db_url.set(port=database.port).render_as_string(hide_password=False),
        "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "QUANYI_QUEUE_PREFIX": "test-",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [bin_dir / "flask", "run", "--host", "127.0.0.1", "--port", str(port), "--with-threads"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
        yield port, creds, database, redis
    finally:
        server.terminate()
        server.wait(timeout=10)
        database.cut()
        redis.cut()
        db.session.remove()


def test_without_redis_the_api_keeps_serving_and_recovers(served):
    port, creds, _, redis = served
    auth = basic_auth(creds.client_id, creds.secret)
    status, _, body = _call(
        port, "/oauth/token", form={"grant_type": "client_credentials"}, auth=auth
    )
    assert status == 200, body
    token = body["access_token"]
    assert _call(port, "/api/v1/partner", token)[0] == 200
    redis.cut()
    for _ in range(3):
        status, _, body = _call(port, "/api/v1/partner", token)
        assert status == 200, body
    status, _, body = _call(
        port, "/oauth/token", form={"grant_type": "client_credentials"}, auth=auth
    )
    assert status == 200, body
    redis.restore()
    assert _call(port, "/api/v1/partner", token)[0] == 200


def test_without_the_database_the_api_answers_503_and_recovers(served):
    port, creds, database, _ = served
    auth = basic_auth(creds.client_id, creds.secret)
    token = _call(port, "/oauth/token", form={"grant_type": "client_credentials"}, auth=auth)[2][
        "access_token"
    ]
    database.cut()
    for _ in range(3):
        status, headers, body = _call(port, "/api/v1/partner", token)
        assert status == 503 and body["code"] == "dependency_down", (status, body)
        assert int(headers["Retry-After"]) > 0
    assert _call(port, "/readyz")[0] == 503
    database.restore()
    status, _, body = _call(port, "/api/v1/partner", token)
    assert status == 200, body
