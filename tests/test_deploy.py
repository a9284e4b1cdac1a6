"""The supervised production processes in deploy/ run what the README says, restart always,
and use the worker class that outlives a Redis outage."""

from __future__ import annotations

import configparser
import shlex
import subprocess


def _unit(repo_root, name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(repo_root / "deploy" / name)
    return unit


def test_workers_and_web_are_restarted_whatever_ends_them(repo_root):
    for name in ("quanyi-worker@.service", "quanyi-web.service"):
        service = _unit(repo_root, name)["Service"]
        assert service["Restart"] == "always", name


def test_every_worker_runs_the_json_quanyi_worker_on_every_queue(repo_root):
    from app.core.queue import QUEUES

    commands = [_unit(repo_root, "quanyi-worker@.service")["Service"]["ExecStart"]]
    procfile = (repo_root / "deploy" / "Procfile").read_text().splitlines()
    commands += [line.split(":", 1)[1] for line in procfile if line.startswith("worker")]
    assert len(commands) == 3
    for command in commands:
        args = shlex.split(command)
        assert args[args.index("-w") + 1] == "app.core.queue.QuanyiWorker"
        assert args[args.index("-S") + 1] == "json"
        assert set(QUEUES) <= set(args), command


def test_make_run_seeds_and_serves_for_the_host_and_port_it_is_given(repo_root):
    """`PORT=8000 make run`: the demo supplier's callback URL is seeded for that port too (a
    seed for 5000 and a server on 8000 leave every direct recharge processing)."""
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=5055", "HOST=0.0.0.0"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "QUANYI_PUBLIC_BASE_URL=http://0.0.0.0:5055 .venv/bin/flask demo seed" in dry
    assert "--host 0.0.0.0 --port 5055" in dry
    assert "QUANYI_PUBLIC_BASE_URL=http://0.0.0.0:5055 \\" in dry
