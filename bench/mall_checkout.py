"""The mall's checkout under load, for bench/harness.py: members buying through the mall's
form (their sessions and CSRF tokens obtained as a browser would), a flash sale of 1,000
members through the mall, and API orders of a partner whose points are kept in its own
ledger (the simulated points service answering in 50 ms)."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import aiohttp
import httpx

SHOPPERS = 32  # members buying in the mall's checkout run (each with points for every order)
EXTERNAL_MEMBERS = 64  # members of the partner keeping its own ledger
PARTNER_LATENCY_MS = 50
POINTS_SECRET = "bench-points-secret"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@contextmanager
def points_service() -> Iterator[tuple[str, Any]]:
    """The simulated partner points service on loopback, answering in 50 ms: (url, app)."""
    from werkzeug.serving import make_server

    from app.members.points_sim import create_points_simulator

    sim = create_points_simulator(
        {
            "PTS_SECRET": POINTS_SECRET,
            "PTS_LATENCY_MS": PARTNER_LATENCY_MS,
            "PTS_OPENING_BALANCE": 10**9,
        }
    )
    server = make_server("127.0.0.1", 0, sim, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", sim
    finally:
        server.shutdown()


def seed_external_partner(session: Any, actor: Any, product: Any, url: str) -> dict[str, Any]:
    """A funded partner keeping its own points (at `url`), its client, a listing of `product`
    and its members."""
    from sqlalchemy import insert

    from app.accounts.service import top_up
    from app.auth.service import create_client
    from app.core.db import utcnow
    from app.core.ids import new_id
    from app.core.money import Money
    from app.core.vault import current_vault
    from app.members import external
    from app.members.models import Member
    from app.partners.models import Listing
    from app.partners.service import create_partner

    partner = create_partner(
        session,
        actor,
        {
            "slug": "bench-air",
            "name": "Bench airline",
            "kind": "airline",
            "status": "active",
            "branding": {"display_name": "Bench Air", "primary_color": "#000000",
                         "accent_color": "#ffffff"},
            "points": {"unit_name": "miles", "rate": {"points": 100, "value": Money(100)},
                       "source": "external"},
            "timezone": "Asia/Shanghai",
        },
    )  # fmt: skip
    external.configure(session, actor, partner, current_vault(), url, POINTS_SECRET)
    client = create_client(session, actor, kind="partner", name="bench", partner_id=partner.id)
    top_up(session, actor, partner.id, 10**12, "bench funds")
    listing = Listing(
        partner_id=partner.id, product_id=product.id, price_points=1000, price_cash_minor=0,
        currency="CNY", wholesale_minor=900, tier_prices={}, max_per_order=5, is_visible=True,
        sort_order=0,
    )  # fmt: skip
    session.add(listing)
    now = utcnow()
    session.execute(
        insert(Member),
        [
            {"id": new_id("mem"), "partner_id": partner.id, "external_id": f"m{i:06d}",
             "status": "active", "extra": {}, "points_balance": 0, "created_at": now,
             "updated_at": now}
            for i in range(EXTERNAL_MEMBERS)
        ],
    )  # fmt: skip
    session.flush()
    return {
        "partner_id": partner.id,
        "client_id": client.client.id,
        "client_secret": client.secret,
        "listing": listing.id,
    }


def launch_link(base: str, token: str, member: str) -> str:
    """The one-time mall link the partner's app asks for (path and query)."""
    issued = httpx.post(
        f"{base}/api/v1/members/{member}/launch",
        headers={"Authorization": f"Bearer {token}"},
        json={},
    )
    issued.raise_for_status()
    link = urlparse(issued.json()["url"])
    return f"{link.path}?{link.query}"


def shopper(base: str, token: str, slug: str, member: str, listing_id: str) -> dict[str, Any]:
    """What a member's browser holds on the product page: its cookies and the form's token."""
    link = launch_link(base, token, member)
    with httpx.Client(base_url=base, follow_redirects=False) as browser:
        browser.get(link)
        page = browser.get(f"/m/{slug}/p/{listing_id}")
        match = _CSRF.search(page.text)
        if page.status_code != 200 or match is None:
            raise RuntimeError(f"no product page for {member}: {page.status_code}")
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    return {"cookie": cookie, "csrf": match.group(1), "path": f"/m/{slug}/p/{listing_id}/buy"}


def shoppers(
    base: str, token: str, slug: str, members: list[str], listing_id: str
) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda m: shopper(base, token, slug, m, listing_id), members))


def buy_request(who: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The buy form as the browser sends it (a new checkout key: a new order)."""
    data = {"csrf_token": who["csrf"], "checkout_key": uuid.uuid4().hex, "quantity": "1"}
    return (
        "POST",
        who["path"],
        {
            "data": data,
            "headers": {"Cookie": who["cookie"]},
            "allow_redirects": False,
        },
    )


def buy_requests(people: list[dict[str, Any]]) -> Any:
    turn = itertools.cycle(people)
    return lambda: buy_request(next(turn))


def placed(status: str, body: bytes, location: str | None) -> bool:
    return status == "302" and bool(location) and "/orders/" in (location or "")


async def mall_flash_sale(base: str, people: list[dict[str, Any]]) -> dict[str, Any]:
    """Every shopper taps "buy" at once on a listing with few units."""
    outcomes: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=len(people))
    async with aiohttp.ClientSession(
        base_url=base,
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),  # each request carries its own member's cookies
        timeout=aiohttp.ClientTimeout(total=120),
    ) as client:

        async def buy(who: dict[str, Any]) -> None:
            method, path, kwargs = buy_request(who)
            try:
                async with client.request(method, path, **kwargs) as response:
                    body = await response.read()
                    if placed(str(response.status), body, response.headers.get("Location")):
                        key = "placed"
                    elif response.status == 422:
                        key = "refused"
                    else:
                        key = str(response.status)
            except (aiohttp.ClientError, TimeoutError):
                key = "transport_error"
            outcomes[key] = outcomes.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(buy(who) for who in people))
        drained = time.perf_counter() - started
    return {
        "buyers": len(people),
        "successes": outcomes.get("placed", 0),
        "refused": outcomes.get("refused", 0),
        "5xx": sum(n for k, n in outcomes.items() if k.startswith("5")),
        "other": {k: n for k, n in outcomes.items() if k not in ("placed", "refused")},
        "drain_seconds": round(drained, 2),
    }


def external_ledger_audit(db_url: str, partner_id: str, sim: Any) -> dict[str, int]:
    """Orders placed, deductions recorded with them, and deductions the partner applied:
    equal, or an order was lost or points taken twice."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        orders = conn.execute(
            text("SELECT count(*) FROM orders WHERE partner_id = :p"), {"p": partner_id}
        ).scalar_one()
        moves = conn.execute(
            text(
                "SELECT count(*) FROM external_points_moves"
                " WHERE partner_id = :p AND kind = 'deduct' AND status = 'done'"
            ),
            {"p": partner_id},
        ).scalar_one()
    engine.dispose()
    applied = [
        r for r in sim.extensions["pts_ledger"]["requests"].values() if r["kind"] == "deduct"
    ]
    return {
        "orders": int(orders),
        "deducts_recorded": int(moves),
        "deducts_at_partner": sum(1 for r in applied if r["status"] == "done"),
    }
