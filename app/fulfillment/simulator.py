"""A simulated upstream supplier speaking the generic protocol, for the demo, the tests and
the benchmarks: a separate small WSGI app (`flask supplier-sim --port …`; mounted at
/supplier-sim in embedded mode) with configurable latency and misbehaviour.

Settings (app.config, all optional): SIM_MERCHANT, SIM_SECRET, SIM_LATENCY_MS (before the
callback), SIM_FAILURE_RATE (answer "failed"), SIM_REJECT_RATE (refuse at submit),
SIM_NO_CALLBACK_RATE, SIM_DUPLICATE_CALLBACK_RATE, SIM_ERROR_RATE (answer 500),
SIM_SLOW_RATE + SIM_SLOW_MS (answer slowly), SIM_SEED, SIM_CLAIM_BASE (a SKU starting with
`LINK` succeeds with a claim link under it, valid 30 days), SIM_FAIL_ACCOUNTS (recharges to
these accounts always fail: the demo's way to show a failed unit refunded).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from flask import Flask, jsonify, request

from app.core.signing import signed, verify

DEFAULTS: dict[str, Any] = {
    "SIM_MERCHANT": "quanyi-demo",
    "SIM_SECRET": "demo-secret",
    "SIM_LATENCY_MS": 300,
    "SIM_FAILURE_RATE": 0.0,
    "SIM_REJECT_RATE": 0.0,
    "SIM_NO_CALLBACK_RATE": 0.0,
    "SIM_DUPLICATE_CALLBACK_RATE": 0.0,
    "SIM_ERROR_RATE": 0.0,
    "SIM_SLOW_RATE": 0.0,
    "SIM_SLOW_MS": 3000,
    "SIM_SEED": None,
    "SIM_CLAIM_BASE": "https://claim.sim.example/c",  # where a link SKU's claim links point
    "SIM_FAIL_ACCOUNTS": ("13800000000",),
    "SIM_BALANCE_MINOR": 10_000_000,  # our prepaid balance at this supplier
    "SIM_UNIT_COST_MINOR": 2_000,
}


def create_simulator(config: dict[str, Any] | None = None) -> Flask:
    sim = Flask("supplier_sim")
    sim.config.update(DEFAULTS)
    sim.config.update(config or {})
    rng = random.Random(sim.config["SIM_SEED"])
    orders: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def chance(name: str) -> bool:
        with lock:
            return rng.random() < float(sim.config[name])

    def answer(payload: dict[str, Any], status: int = 200) -> Any:
        body = signed({**payload, "merchant": sim.config["SIM_MERCHANT"]}, sim.config["SIM_SECRET"])
        return jsonify(body), status

    def call_back(order: dict[str, Any]) -> None:
        time.sleep(sim.config["SIM_LATENCY_MS"] / 1000)
        with lock:
            order["status"] = "failed" if order["will_fail"] else "success"
        if order["no_callback"]:
            return
        payload = signed(
            {"merchant": sim.config["SIM_MERCHANT"], **result(order)}, sim.config["SIM_SECRET"]
        )
        for _ in range(2 if order["duplicate"] else 1):
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(order["callback_url"], json=payload, timeout=5)

    def result(order: dict[str, Any]) -> dict[str, Any]:
        """What a query or callback says of an order; a link SKU's success carries its claim
        link, valid for 30 days."""
        said = {"out_trade_no": order["ref"], "order_no": order["order_no"]}
        said["status"] = order["status"]
        if order["link"] and order["status"] == "success":
            said["claim_url"] = f"{sim.config['SIM_CLAIM_BASE']}/{order['order_no']}"
            said["claim_expires_at"] = order["claim_expires_at"]
        return said

    @sim.before_request
    def misbehave() -> Any:
        if chance("SIM_SLOW_RATE"):
            time.sleep(sim.config["SIM_SLOW_MS"] / 1000)
        if chance("SIM_ERROR_RATE"):
            return jsonify(error="upstream exploded"), 500
        params = request.get_json(silent=True) or {}
        if not verify(params, sim.config["SIM_SECRET"]):
            return answer({"code": 401, "message": "bad signature"}, 401)
        return None

    @sim.post("/api/recharge")
    def recharge() -> Any:
        params = request.get_json()
        ref = str(params["out_trade_no"])
        with lock:
            existing = orders.get(ref)
        if existing is not None:  # idempotent on our reference
            return answer({"code": 0, "order_no": existing["order_no"], "out_trade_no": ref})
        if chance("SIM_REJECT_RATE"):
            return answer({"code": 40001, "message": "sku unavailable", "out_trade_no": ref})
        with lock:
            if sim.config["SIM_BALANCE_MINOR"] < sim.config["SIM_UNIT_COST_MINOR"]:
                return answer(
                    {"code": 40002, "message": "insufficient_balance", "out_trade_no": ref}
                )
            sim.config["SIM_BALANCE_MINOR"] -= sim.config["SIM_UNIT_COST_MINOR"]
        order = {
            "ref": ref,
            "order_no": f"SIM{int(time.time() * 1000)}{rng.randint(1000, 9999)}",
            "status": "processing",
            "callback_url": params.get("callback_url"),
            "will_fail": chance("SIM_FAILURE_RATE")
            or params.get("account") in sim.config["SIM_FAIL_ACCOUNTS"],
            "no_callback": chance("SIM_NO_CALLBACK_RATE"),
            "duplicate": chance("SIM_DUPLICATE_CALLBACK_RATE"),
            "link": str(params.get("sku", "")).startswith("LINK"),
            "claim_expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        }
        with lock:
            orders[ref] = order
        threading.Thread(target=call_back, args=(order,), daemon=True).start()
        return answer({"code": 0, "order_no": order["order_no"], "out_trade_no": ref})

    @sim.post("/api/query")
    def query() -> Any:
        ref = str(request.get_json()["out_trade_no"])
        with lock:
            order = orders.get(ref)
        if order is None:
            return answer({"code": 0, "out_trade_no": ref, "status": "unknown"})
        return answer({"code": 0, **result(order)})

    @sim.post("/api/balance")
    def balance() -> Any:
        return answer({"code": 0, "balance": sim.config["SIM_BALANCE_MINOR"]})

    sim.extensions["sim_orders"] = orders
    return sim
