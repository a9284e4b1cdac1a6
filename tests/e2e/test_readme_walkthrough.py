"""The README's curl walk-through, run for real against a served instance seeded like `make run`."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _readme_block(repo_root: Path) -> str:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    return next(b for b in blocks if "partners credentials jinhai-bank" in b)


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


@pytest.fixture
def served(repo_root: Path, tmp_path: Path):
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'readme.db'}",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    for args in (["db", "upgrade"], ["demo", "seed"]):
        subprocess.run(
            [bin_dir / "flask", *args], cwd=repo_root, env=env, check=True, capture_output=True
        )
    port = _free_port()
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


def test_readme_curl_sequence_returns_token_then_own_profile(served, repo_root):
    port, env = served
    script = _readme_block(repo_root).replace("127.0.0.1:5000", f"127.0.0.1:{port}")
    script = script.replace(".venv/bin/flask", "flask")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout.strip().splitlines()[-1])
    assert profile["slug"] == "jinhai-bank"
    assert profile["kind"] == "bank"
    assert profile["id"].startswith("prt_")
