"""The partner OpenAPI document generates a Python client (openapi-python-client) without
warnings, and that client, authenticated by Authlib's OAuth2 client-credentials client, runs
the redemption flow against a served instance: token, member, points, catalog, idempotent
order, entitlement, reveal, paginated orders."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from authlib.integrations.httpx_client import OAuth2Client

from tests.e2e.conftest import issue_credentials

PACKAGE = "quanyi_partner_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    repo_root = Path(__file__).resolve().parents[2]
    out = tmp_path_factory.mktemp("client")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            bin_dir / "openapi-python-client",
            "generate",
            "--path",
            repo_root / "openapi" / "openapi.json",
            "--meta",
            "none",
            "--output-path",
            out / PACKAGE,
        ],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
            del sys.modules[name]


def test_the_generated_client_runs_the_redemption_flow(generated, served):
    port, env = served
    base = f"http://127.0.0.1:{port}"
    client_id, secret = issue_credentials(env, "jinhai-bank", "generated-client")
    models = generated("models")
    api = generated("client").AuthenticatedClient(base_url=base, token="set-by-authlib")
    oauth = OAuth2Client(
        client_id,
        secret,
        token_endpoint=f"{base}/oauth/token",
        grant_type="client_credentials",
        base_url=base,
    )
    oauth.fetch_token()  # later calls renew it when it expires (Authlib's client)
    api.set_httpx_client(oauth)

    catalog = generated("api.orders.orders_get_catalog").sync(
        client=api,
        fulfillment_type=models.OrdersGetCatalogFulfillmentType.CARD_KEY,
        in_stock=True,
        limit=100,
    )
    assert isinstance(catalog, models.CatalogEntryPage) and catalog.data
    entry = next(e for e in catalog.data if e.price.points and e.available >= 2)
    price = entry.price.points

    member_id = f"gen-{uuid.uuid4().hex[:8]}"
    upsert = generated("api.members.members_upsert_member")
    member = upsert.sync(member_id, client=api, body=models.MemberUpsert(display_name="李四"))
    assert isinstance(member, models.Member) and member.external_id == member_id

    granted = generated("api.members.members_move_points").sync(
        member_id,
        client=api,
        body=models.PointsMove(type_=models.PointsMoveType.GRANT, amount=2 * price, reason="t"),
        idempotency_key=f"grant-{member_id}",
    )
    assert isinstance(granted, models.PointsEntry) and granted.balance_after == 2 * price

    place = generated("api.orders.orders_place_order")
    body = models.OrderCreate(
        member=member_id,
        items=[models.OrderLine(listing=entry.id, quantity=1)],
        payment=models.Payment(points=price),
    )
    first = place.sync_detailed(client=api, body=body, idempotency_key=f"{member_id}-1")
    again = place.sync_detailed(client=api, body=body, idempotency_key=f"{member_id}-1")
    assert first.status_code == again.status_code == 201
    order = first.parsed
    assert isinstance(order, models.Order) and again.parsed.id == order.id
    assert order.status == models.OrderStatus.FULFILLED and order.total.points == price
    second = place.sync(client=api, body=body, idempotency_key=f"{member_id}-2")
    assert isinstance(second, models.Order) and second.id != order.id
    # a refusal parses as a Problem, with the code the error catalog documents
    refused = place.sync(client=api, body=body, idempotency_key=f"{member_id}-3")
    assert isinstance(refused, models.Problem) and refused.code == "insufficient_points"

    held = generated("api.entitlements.entitlements_member_entitlements").sync(
        member_id, client=api
    )
    assert {e.order_id for e in held.data} == {order.id, second.id}
    revealed = generated("api.entitlements.entitlements_reveal_entitlement").sync(
        held.data[0].id, client=api
    )
    assert isinstance(revealed, models.Reveal)
    assert revealed.code.endswith(held.data[0].masked_code[-4:])

    list_orders = generated("api.orders.orders_list_orders")
    pages, cursor = [], None
    while True:
        page = list_orders.sync(client=api, member=member_id, limit=1, cursor=cursor)
        pages.append([o.id for o in page.data])
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == [[second.id], [order.id]]
