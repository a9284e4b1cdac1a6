from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from app.fulfillment.simulator import create_simulator
from tests.factories import fund, make_listing, make_member, make_product, make_supplier


@dataclass
class Sim:
    url: str
    config: dict
    orders: dict  # what the simulated supplier has accepted, by our reference


@pytest.fixture
def sim_factory() -> Iterator:
    """Simulated suppliers over real HTTP on loopback, stopped after the test."""
    servers = []

    def start(**config) -> Sim:
        app = create_simulator(
            {
                "SIM_SECRET": "sim-secret",
                "SIM_MERCHANT": "quanyi",
                "SIM_SEED": 7,
                "SIM_LATENCY_MS": 0,
                **config,
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return Sim(
            f"http://127.0.0.1:{server.server_port}", app.config, app.extensions["sim_orders"]
        )

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture(autouse=True)
def _start_with_empty_queues(empty_queues) -> None:
    """Every test here runs queued jobs."""


def sim_supplier(session, sim: Sim, name: str):
    return make_supplier(
        session,
        name,
        api_base_url=sim.url,
        credentials={"merchant": "quanyi", "secret": "sim-secret"},
    )


@pytest.fixture
def recharge_shop(session, partner_a):
    """A funded partner, a member with points and a phone, and a factory for a direct-recharge
    listing supplied by the given suppliers (in priority order)."""
    fund(session, partner_a, amount_minor=100_000)
    make_member(session, partner_a, "m1", points=10_000, phone="13912345678")

    def listing_for(*suppliers):
        from app.core.money import Money
        from app.supply import products
        from tests.factories import TEST_ACTOR, make_authorization

        product = make_product(
            session, "网易云音乐", fulfillment_type="direct_recharge", supplier=suppliers[0]
        )
        for priority, supplier in enumerate(suppliers[1:], start=2):
            products.create_offer(
                session,
                TEST_ACTOR,
                product,
                supplier,
                {"supplier_sku": f"SKU-{priority}", "cost": Money(2000), "priority": priority * 10},
            )
            make_authorization(session, supplier, "网易云音乐")
        session.commit()
        return make_listing(session, partner_a, product, points=1000, wholesale_minor=900)

    return listing_for
