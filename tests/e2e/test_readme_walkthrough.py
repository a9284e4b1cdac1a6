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


def _readme_block(repo_root: Path, marker: str) -> str:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    return next(b for b in blocks if marker in b)


def _run(
    script: str, port: int, repo_root: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    script = script.replace("127.0.0.1:5000", f"127.0.0.1:{port}").replace(
        ".venv/bin/flask", "flask"
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


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
def served(tmp_path_factory: pytest.TempPathFactory):
    repo_root = Path(__file__).resolve().parents[2]
    tmp_path = tmp_path_factory.mktemp("readme")
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
    result = _run(
        _readme_block(repo_root, "partners credentials jinhai-bank"), port, repo_root, env
    )
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout.strip().splitlines()[-1])
    assert profile["slug"] == "jinhai-bank"
    assert profile["kind"] == "bank"
    assert profile["id"].startswith("prt_")


def test_readme_redeem_sequence_reveals_a_code(served, repo_root):
    port, env = served
    login = _readme_block(repo_root, "partners credentials jinhai-bank")
    redeem = _readme_block(repo_root, "/reveal")
    result = _run(login + "\n" + redeem, port, repo_root, env)
    assert result.returncode == 0, result.stderr
    revealed = json.loads(result.stdout.strip().splitlines()[-1])
    assert revealed["entitlement_id"].startswith("ent_")
    assert revealed["code"].endswith(revealed["masked_code"][-4:])
