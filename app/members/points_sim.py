"""A simulated partner points service (a bank's points of record) speaking the protocol of
app/members/external.py, for the demo, the tests and the benchmarks: a small WSGI app (mounted
at /points-sim in embedded mode) with a ledger in memory and configurable misbehaviour.

Settings (app.config, all optional): PTS_SECRET, PTS_OPENING_BALANCE (a member it has not
seen starts with this), PTS_LATENCY_MS (before every answer), PTS_ERROR_RATE (answer 500 and
apply nothing), PTS_LOST_ANSWER_RATE (apply, then answer too late for the caller: a timeout
whose outcome only a status query tells), PTS_LOST_ANSWER_MS, PTS_SEED. Members whose id
starts with `poor` have no points. `app.extensions["pts_ledger"]` is what it holds: balances by
member and every request it applied, by request id.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from flask import Flask, jsonify, request

from app.core.signing import signed, verify
from app.members.external import REQUEST_TTL

DEFAULTS: dict[str, Any] = {
    "PTS_SECRET": "demo-points-secret",
    "PTS_OPENING_BALANCE": 200_000,
    "PTS_LATENCY_MS": 0,
    "PTS_ERROR_RATE": 0.0,
    "PTS_LOST_ANSWER_RATE": 0.0,
    "PTS_LOST_ANSWER_MS": 3000,
    "PTS_SEED": None,
}


def create_points_simulator(config: dict[str, Any] | None = None) -> Flask:
    sim = Flask("points_sim")
    sim.config.update(DEFAULTS)
    sim.config.update(config or {})
    rng = random.Random(sim.config["PTS_SEED"])
    ledger: dict[str, Any] = {"balances": {}, "requests": {}}
    sim.extensions["pts_ledger"] = ledger
    lock = threading.Lock()

    def chance(name: str) -> bool:
        with lock:
            return rng.random() < float(sim.config[name])

    def answer(payload: dict[str, Any], status: int = 200) -> Any:
        return jsonify(signed(payload, sim.config["PTS_SECRET"])), status

    def balance_of(member: str) -> int:
        balances = ledger["balances"]
        if member not in balances:
            balances[member] = 0 if member.startswith("poor") else sim.config["PTS_OPENING_BALANCE"]
        return int(balances[member])

    @sim.before_request
    def _check() -> Any:
        time.sleep(sim.config["PTS_LATENCY_MS"] / 1000)
        params = request.get_json(silent=True) or {}
        if not verify(params, sim.config["PTS_SECRET"]):
            return answer({"status": "error", "message": "bad signature"}, 401)
        if time.time() - int(params.get("timestamp", 0)) > REQUEST_TTL.total_seconds():
            return answer({"status": "error", "message": "request expired"}, 400)
        if chance("PTS_ERROR_RATE"):
            return answer({"status": "error", "message": "unavailable"}, 500)
        return None

    def apply(kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """Idempotent on the request id: a repeated request answers what the first did."""
        request_id, member = str(params["request_id"]), str(params["member"])
        amount = int(params["amount"])
        with lock:
            seen = ledger["requests"].get(request_id)
            if seen is None:
                current = balance_of(member)
                if kind == "deduct" and current < amount:
                    seen = {"kind": kind, "status": "refused", "member": member, "amount": amount}
                else:
                    ledger["balances"][member] = current + (-amount if kind == "deduct" else amount)
                    seen = {"kind": kind, "status": "done", "member": member, "amount": amount}
                ledger["requests"][request_id] = seen
            result = {"request_id": request_id, "status": seen["status"]}
            result["balance"] = balance_of(member)
        if chance("PTS_LOST_ANSWER_RATE"):
            time.sleep(sim.config["PTS_LOST_ANSWER_MS"] / 1000)
        return result

    @sim.post("/balance")
    def balance() -> Any:
        member = str(request.get_json()["member"])
        with lock:
            return answer({"member": member, "balance": balance_of(member)})

    @sim.post("/deduct")
    def deduct() -> Any:
        return answer(apply("deduct", request.get_json()))

    @sim.post("/refund")
    def refund() -> Any:
        return answer(apply("refund", request.get_json()))

    @sim.post("/status")
    def status() -> Any:
        request_id = str(request.get_json()["request_id"])
        with lock:
            seen = ledger["requests"].get(request_id)
        return answer({"request_id": request_id, "status": seen["status"] if seen else "not_found"})

    return sim
