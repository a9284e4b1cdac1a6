"""Calls to partners and suppliers share one kept-alive HTTP client per process: a second call
to the same host reuses the first one's connection, whichever domain makes it, and a redirect
is answered, never followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.fulfillment.suppliers.generic import GenericJsonAdapter
from app.members.external import PointsService
from app.webhooks.sending import Prepared, post


class _Peers(ThreadingHTTPServer):
    """Answers every POST (302 to /elsewhere for /redirect) and notes who asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, int]] = []
        self.url = f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: _Peers

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append((self.path, self.client_address[1]))
        redirect = self.path == "/redirect"
        self.send_response(302 if redirect else 200)
        if redirect:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def peers() -> Iterator[_Peers]:
    server = _Peers()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _webhook(url: str) -> tuple[int | None, int, str | None]:
    return post(Prepared("whd_test", url, b"{}", {}), allow_private=True)


def test_webhooks_points_services_and_suppliers_share_one_kept_alive_connection(peers):
    supplier = GenericJsonAdapter(peers.url, "merchant", "secret")
    points = PointsService(peers.url, "secret", 2.0)

    assert _webhook(peers.url + "/hook")[0] == 200
    assert _webhook(peers.url + "/hook")[0] == 200
    assert supplier.balance() is None  # unsigned: not trusted
    assert points.balance("m1") is None  # unsigned: not trusted
    assert [path for path, _ in peers.seen] == ["/hook", "/hook", "/api/balance", "/balance"]
    assert len({port for _, port in peers.seen}) == 1, peers.seen


def test_a_redirect_is_answered_not_followed(peers):
    assert _webhook(peers.url + "/redirect")[0] == 302
    assert [path for path, _ in peers.seen] == ["/redirect"]
