"""A served instance seeded like `make run` (SQLite, jobs in-process), shared by the tests of a
module that need real HTTP: the README walk-through, the generated client, the browser."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError("server exited: " + server.stderr.read().decode())
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not come up")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, str]]]:
    repo_root = Path(__file__).resolve().parents[2]
    tmp_path = tmp_path_factory.mktemp("readme")
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'readme.db'}",
        "QUANYI_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("REDIS_URL", "QUANYI_ENV", "LOG_LEVEL_OVERRIDE"):
        env.pop(name, None)
    for args in (["db", "upgrade"], ["demo", "seed"]):
        subprocess.run(
            [bin_dir / "flask", *args], cwd=repo_root, env=env, check=True, capture_output=True
        )
    server = subprocess.Popen(
        [bin_dir / "flask", "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=repo_root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
        yield port, env
    finally:
        server.terminate()
        server.wait(timeout=10)


def issue_credentials(env: dict[str, str], partner: str, name: str) -> tuple[str, str]:
    """A new API client of a demo partner, through the CLI `make run` prints: (id, secret)."""
    printed = subprocess.run(
        ["flask", "partners", "credentials", partner, "--name", name],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    client_id = re.search(r"client_id:\s+(\S+)", printed)
    secret = re.search(r"client_secret:\s+(\S+)", printed)
    assert client_id and secret, printed
    return client_id.group(1), secret.group(1)


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright (never a downloaded browser). Skipped where it is not
    installed, except in CI (REQUIRE_SERVICES=1), where .ci/run installs it."""
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium is missing: apt-get install chromium fonts-wqy-microhei")
        pytest.skip("Chromium is not installed (apt-get install chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()
