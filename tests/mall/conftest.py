from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.admin.conftest import browser_of, csrf_of  # noqa: F401 - fixtures shared with the portal
from tests.factories import (
    ApiUser,
    fund,
    make_client,
    make_member,
    sellable_card_key_listing,
)


@pytest.fixture
def shop(session, partner_a):
    """Partner A's mall: a card key at 1,000 points (800 for gold members), member m-1."""
    fund(session, partner_a)
    listing = sellable_card_key_listing(
        session, partner_a, codes=5, points=1_000, tier_prices={"gold": {"points": 800}}
    )
    make_member(session, partner_a, "m-1", points=10_000)
    return listing


def launch(http: Any, api: ApiUser, external_id: str = "m-1", **body: Any) -> Any:
    """What a partner's app does: ask for a launch link, open it in the member's browser."""
    issued = api.post(f"/api/v1/members/{external_id}/launch", json=body)
    assert issued.status_code == 201, issued.get_json()
    parts = urlsplit(issued.get_json()["url"])
    return http.get(f"{parts.path}?{parts.query}")


@pytest.fixture
def api_a(browser_of, session, partner_a):  # noqa: F811 - the fixture imported above
    return ApiUser.login(browser_of(), make_client(session, partner_a))


@pytest.fixture
def api_b(browser_of, session, partner_b):  # noqa: F811
    return ApiUser.login(browser_of(), make_client(session, partner_b))
