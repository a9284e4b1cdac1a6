"""A partner's own host name serves its mall (and only its mall); with the platform's host
names configured, any other host is refused."""

from __future__ import annotations

import pytest

from app.mall import hosts
from app.mall.hosts import PartnerHosts, partner_host_middleware


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(hosts, "REFRESH_SECONDS", -1.0)  # read the map at every request


def test_a_partners_host_is_its_mall_and_nothing_else(app, session, client, partner_a, fresh):
    partner_a.mall_host = "mall.partner-a.example"
    session.commit()
    theme = client.get("/theme.css", headers={"Host": "mall.partner-a.example"})
    assert theme.status_code == 200 and theme.mimetype == "text/css"
    home = client.get("/", headers={"Host": "mall.partner-a.example"})
    assert home.status_code == 401  # the mall, asking for a launch
    other = client.get("/m/someone-else/", headers={"Host": "mall.partner-a.example"})
    assert other.status_code == 404
    # the platform's own host is unchanged
    assert client.get("/healthz").status_code == 200


def test_unknown_hosts_are_refused_once_the_platforms_are_named(app, session, partner_a, fresh):
    partner_a.mall_host = "mall.partner-a.example"
    session.commit()

    def inner(environ, start_response):  # noqa: ANN001, ANN202 - a bare WSGI app
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    served = partner_host_middleware(
        inner,
        PartnerHosts(app.extensions["quanyi_db"].session),
        frozenset({"api.quanyi.example"}),
    )

    def get(host: str, path: str) -> tuple[str, bytes]:
        statuses: list[str] = []
        body = b"".join(
            served({"HTTP_HOST": host, "PATH_INFO": path}, lambda s, h: statuses.append(s))
        )
        return statuses[0], body

    assert get("api.quanyi.example", "/api/v1/partner") == ("200 OK", b"/api/v1/partner")
    assert get("mall.partner-a.example:443", "/p/lst_1") == ("200 OK", b"/m/partner-a/p/lst_1")
    assert get("mall.partner-a.example", "/static/mall.css")[1] == b"/static/mall.css"
    assert get("evil.example", "/api/v1/partner")[0].startswith("404")
