"""A partner's payment page, simulated: the test double of the cash part of a mall checkout
(app/mall/payments.py), mounted at /pay-sim in embedded mode. It checks our signed request,
shows the amount with "Pay" and "Cancel", and sends the browser back to the mall with its
signed result. `app.extensions["pay_sim_payments"]` holds what it was asked and paid.

Settings (app.config): PAY_SECRET (shared with the mall)."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, redirect, render_template_string, request

from app.core.signing import signed, verify

DEFAULTS: dict[str, Any] = {"PAY_SECRET": "demo-pay-secret"}

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>收银台</title></head>
<body style="font-family: sans-serif; max-width: 22rem; margin: 2rem auto; padding: 0 1rem">
<h1>收银台 Checkout</h1><p>{{ p.description }}</p>
<p style="font-size: 1.6rem">
<strong data-testid="amount">¥{{ '%.2f'|format(p.amount|int / 100) }}</strong></p>
<form method="post" action="confirm">
{% for k, v in p.items() %}<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}
<button name="outcome" value="paid" style="font-size: 1.2rem">支付 Pay</button>
<button name="outcome" value="cancelled">取消 Cancel</button>
</form></body></html>"""


def create_pay_simulator(config: dict[str, Any] | None = None) -> Flask:
    sim = Flask("pay_sim")
    sim.config.update(DEFAULTS)
    sim.config.update(config or {})
    paid: dict[str, dict[str, Any]] = {}
    sim.extensions["pay_sim_payments"] = paid

    def checked(params: dict[str, str]) -> dict[str, str]:
        if not verify(params, sim.config["PAY_SECRET"]):
            abort(400)
        return params

    @sim.get("/pay")
    def pay() -> Any:
        return render_template_string(PAGE, p=checked(request.args.to_dict()))

    @sim.post("/confirm")
    def confirm() -> Any:
        form = request.form.to_dict()
        outcome = form.pop("outcome", "cancelled")
        asked = checked(form)
        reference = f"PAY{uuid.uuid4().hex[:12].upper()}" if outcome == "paid" else ""
        paid[asked["payment_id"]] = {"status": outcome, "amount": asked["amount"]}
        result = signed(
            {
                "payment_id": asked["payment_id"],
                "status": outcome,
                "payment_ref": reference,
                "amount": asked["amount"],
                "timestamp": int(time.time()),
            },
            sim.config["PAY_SECRET"],
        )
        separator = "&" if "?" in asked["return_url"] else "?"
        return redirect(f"{asked['return_url']}{separator}{urlencode(result)}")

    return sim
