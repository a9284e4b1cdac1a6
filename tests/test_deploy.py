"""The supervised production processes in deploy/ run what the README says, restart always,
and use the worker class that outlives a Redis outage."""

from __future__ import annotations

import configparser
import shlex


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
