"""Request and response examples of the partner operations, recorded from a real run rather
than written by hand: a fresh embedded instance (SQLite, the demo seed) answers each call, and
the bodies are kept in examples.json, which the published document shows. Regenerate after an
API change (`make examples`); a test checks every example against its operation's schema.

    .venv/bin/python -m app.apidocs.examples
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).with_name("examples.json")
MEMBER = "card-0001"
# the run's webhook endpoint must resolve here; the examples show a partner's own host
RECORDED_HOOK, SHOWN_HOOK = "https://localhost", "https://hooks.jinhai-bank.example"
SHOWN_JWKS_SITE = "https://app.jinhai-bank.example"  # the partner's published launch keys


def load() -> dict[str, dict[str, Any]]:
    examples: dict[str, dict[str, Any]] = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    return examples


def record() -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/examples.db"
        os.environ.pop("REDIS_URL", None)
        os.environ["QUANYI_WEBHOOK_ALLOW_PRIVATE"] = "1"
        from alembic import command

        from app import create_app
        from app.core.cli import alembic_config

        app = create_app()
        with app.app_context():
            command.upgrade(alembic_config(), "head")
        cli = app.test_cli_runner()
        cli.invoke(args=["demo", "seed"], catch_exceptions=False)
        cli.invoke(args=["billing", "invoice", "--partner", "jinhai-bank", "--issue"])
        printed = cli.invoke(args=["partners", "credentials", "jinhai-bank"]).output
        client_id, secret = (
            re.search(rf"{name}:\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
            for name in ("client_id", "client_secret")
        )
        with _published_keys() as jwks_site:
            calls = _calls(app.test_client(), client_id, secret, jwks_site)
        recorded = json.dumps(calls, ensure_ascii=False)
        recorded = recorded.replace(RECORDED_HOOK, SHOWN_HOOK).replace(jwks_site, SHOWN_JWKS_SITE)
        shown: dict[str, dict[str, Any]] = json.loads(recorded)
        return shown


@contextmanager
def _published_keys() -> Iterator[str]:
    """A partner's JWKS (one P-256 key) served on loopback while the examples are recorded."""
    import threading

    from flask import Flask
    from joserfc.jwk import ECKey
    from werkzeug.serving import make_server

    jwk = {**ECKey.generate_key("P-256").as_dict(private=False), "kid": "app-2027"}
    site = Flask("jwks")
    site.add_url_rule("/.well-known/jwks.json", "jwks", lambda: {"keys": [jwk]})
    server = make_server("127.0.0.1", 0, site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _example_public_key() -> str:
    """A fresh EC P-256 public key, as a partner would register for its signed launches."""
    from joserfc.jwk import ECKey

    return ECKey.generate_key("P-256").as_pem(private=False).decode()


def _calls(http: Any, client_id: str, secret: str, jwks_site: str) -> dict[str, dict[str, Any]]:
    examples: dict[str, dict[str, Any]] = {}
    token_form = {"grant_type": "client_credentials"}
    issued = http.post("/oauth/token", data=token_form, auth=(client_id, secret))
    examples["oauth_issue_token"] = {"request": token_form, "response": issued.get_json()}
    token = issued.get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def call(op_id: str, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        extra = {"Idempotency-Key": key} if key else {}
        answer = http.open(path, method=method, json=body, headers={**headers, **extra})
        assert answer.status_code < 300, (op_id, answer.status_code, answer.get_json())
        examples[op_id] = {"request": body, "response": answer.get_json()}
        return answer.get_json()

    call("partner_get_own_partner", "GET", "/api/v1/partner")
    call("partner_get_usage", "GET", "/api/v1/usage")
    call("orders_list_categories", "GET", "/api/v1/catalog/categories")
    call("orders_list_brands", "GET", "/api/v1/catalog/brands")
    catalog = call("orders_get_catalog", "GET", "/api/v1/catalog?fulfillment_type=card_key&limit=2")
    listing = catalog["data"][0]
    member_path = f"/api/v1/members/{MEMBER}"
    call("members_upsert_member", "PUT", member_path, {"display_name": "张三", "tier": "gold"})
    call("orders_get_catalog_entry", "GET", f"/api/v1/catalog/{listing['id']}?member={MEMBER}")
    call("members_get_member", "GET", member_path)
    call("mall_api_launch", "POST", f"{member_path}/launch", {"create_member": {"tier": "gold"}})
    key = {"kid": "app-2026", "public_key": _example_public_key()}
    call("mall_api_register_launch_key", "POST", "/api/v1/mall/launch-keys", key)
    call("mall_api_list_launch_keys", "GET", "/api/v1/mall/launch-keys")
    call("mall_api_revoke_launch_key", "POST", "/api/v1/mall/launch-keys/app-2026/revoke")
    jwks_url = {"url": f"{jwks_site}/.well-known/jwks.json"}
    call("mall_api_set_launch_jwks", "PUT", "/api/v1/mall/launch-jwks", jwks_url)
    call("members_list_members", "GET", "/api/v1/members?limit=2")
    call(
        "members_move_points",
        "POST",
        f"{member_path}/points",
        {"type": "grant", "amount": 50_000, "reason": "2026 annual allowance"},
        key="grant-2026-card-0001",
    )
    call("members_points_ledger", "GET", f"{member_path}/points/ledger?limit=2")
    call("members_points_moves", "GET", "/api/v1/points/moves?date=2026-12-01&limit=2")
    price = examples["orders_get_catalog_entry"]["response"]
    order = call(
        "orders_place_order",
        "POST",
        "/api/v1/orders",
        {
            "member": MEMBER,
            "items": [{"listing": listing["id"], "quantity": 1}],
            "payment": {"points": price["price"]["points"]},
            "client_reference": "PO-2026-000123",
            "metadata": {"channel": "app"},
        },
        key="5f0c8e0e-6a51-4d8b-9a2e-3f1f1b8c2d10",
    )
    call("orders_get_order", "GET", f"/api/v1/orders/{order['id']}")
    call("orders_list_orders", "GET", f"/api/v1/orders?member={MEMBER}&limit=2")
    recharge = http.get(
        f"/api/v1/catalog?fulfillment_type=direct_recharge&limit=20&member={MEMBER}",
        headers=headers,
    ).get_json()["data"]
    phone = next(e for e in recharge if e["recharge_account_kind"] == "phone")
    pending = http.post(
        "/api/v1/orders",
        json={
            "member": MEMBER,
            "items": [{"listing": phone["id"], "quantity": 1, "recharge_account": "13912345678"}],
            "payment": {"points": phone["price"]["points"]},
        },
        headers={**headers, "Idempotency-Key": "example-recharge"},
    ).get_json()
    assert "id" in pending, pending
    call("orders_cancel_order", "POST", f"/api/v1/orders/{pending['id']}/cancel", key="c-1")
    held = call("entitlements_member_entitlements", "GET", f"{member_path}/entitlements?limit=2")
    call(
        "entitlements_reveal_entitlement",
        "POST",
        f"/api/v1/entitlements/{held['data'][0]['id']}/reveal",
    )
    issued_endpoint = call(
        "webhooks_create_endpoint",
        "POST",
        "/api/v1/webhook-endpoints",
        {"url": f"{RECORDED_HOOK}/quanyi", "events": ["order.fulfilled"]},
    )
    endpoint = issued_endpoint["endpoint"]["id"]
    call("webhooks_list_endpoints", "GET", "/api/v1/webhook-endpoints")
    call("webhooks_rotate_secret", "POST", f"/api/v1/webhook-endpoints/{endpoint}/rotate-secret")
    call("webhooks_test_endpoint", "POST", f"/api/v1/webhook-endpoints/{endpoint}/test")
    log = call(
        "webhooks_list_deliveries", "GET", f"/api/v1/webhook-endpoints/{endpoint}/deliveries"
    )
    call("webhooks_replay_event", "POST", f"/api/v1/events/{log['data'][0]['event_id']}/replay")
    case = call(
        "orders_open_case",
        "POST",
        f"/api/v1/orders/{order['id']}/cases",
        {
            "delivery_id": order["deliveries"][0]["id"],
            "kind": "code_not_working",
            "description": "会员反馈卡密无法兑换 / the member says the code is refused",
        },
        key="example-case-1",
    )
    call("orders_list_cases", "GET", "/api/v1/cases?status=open&limit=2")
    call("orders_get_case", "GET", f"/api/v1/cases/{case['id']}")
    call("partner_list_audit_events", "GET", "/api/v1/audit-events?action=order.&limit=2")
    call("billing_get_own_account", "GET", "/api/v1/account")
    call("billing_list_own_entries", "GET", "/api/v1/account/entries?limit=2")
    invoices = call("billing_list_own_invoices", "GET", "/api/v1/invoices?limit=1")
    call("billing_get_own_invoice", "GET", f"/api/v1/invoices/{invoices['data'][0]['id']}")
    for op_id, path in (
        ("oauth_introspect_token", "/oauth/introspect"),
        ("oauth_revoke_token", "/oauth/revoke"),
    ):
        form = {"token": token, "token_type_hint": "access_token"}
        answer = http.post(path, data=form, auth=(client_id, secret))
        assert answer.status_code == 200, (op_id, answer.get_json())
        examples[op_id] = {"request": form, "response": answer.get_json()}
    return examples


if __name__ == "__main__":
    EXAMPLES.write_text(
        json.dumps(record(), indent=2, ensure_ascii=False, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    print(EXAMPLES)
