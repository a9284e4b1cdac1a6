"""Webhook targets: partners cannot aim our sender at our own network."""

from __future__ import annotations

import pytest

from app.webhooks import sending
from app.webhooks.endpoints import MAX_ENDPOINTS_PER_OWNER
from app.webhooks.sending import Prepared
from app.webhooks.targets import TargetNotAllowed, check_target

REFUSED_ALWAYS = [
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://0.0.0.0:6379/",
    "https://no-such-host.invalid/hook",
    "https://example.com:99999/hook",
]
PRIVATE = [
    "http://127.0.0.1:6379/",
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://10.0.0.8/hook",
    "https://192.168.1.1/hook",
    "https://172.16.0.1/hook",
    "https://[::1]/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
]


@pytest.mark.parametrize("url", REFUSED_ALWAYS + PRIVATE)
def test_private_loopback_metadata_and_other_schemes_are_refused(url):
    with pytest.raises(TargetNotAllowed):
        check_target(url, allow_private=False)


@pytest.mark.parametrize("url", REFUSED_ALWAYS)
def test_link_local_and_other_schemes_stay_refused_when_private_targets_are_allowed(url):
    with pytest.raises(TargetNotAllowed):
        check_target(url, allow_private=True)


def test_loopback_is_allowed_only_by_the_operator_setting():
    check_target("http://127.0.0.1:8080/hook", allow_private=True)
    with pytest.raises(TargetNotAllowed):
        check_target("http://127.0.0.1:8080/hook", allow_private=False)


def test_registering_a_private_target_is_a_422_unless_allowed(app, api_a, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    answer = api_a.post(
        "/api/v1/webhook-endpoints", json={"url": "http://127.0.0.1:6379/", "events": []}
    )
    assert answer.status_code == 422
    assert answer.get_json()["code"] == "webhook_url_not_allowed"


def test_a_partner_has_at_most_so_many_endpoints(api_a):
    for i in range(MAX_ENDPOINTS_PER_OWNER):
        made = api_a.post(
            "/api/v1/webhook-endpoints", json={"url": f"http://127.0.0.1:9/{i}", "events": []}
        )
        assert made.status_code == 201
    more = api_a.post(
        "/api/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/x", "events": []}
    )
    assert more.status_code == 409 and more.get_json()["code"] == "webhook_endpoint_limit"


def test_a_send_checks_the_target_again_and_reports_coarsely():
    prepared = Prepared("dlv_x", "http://127.0.0.1:9/hook", b"{}", {})
    # the name resolved to a public address at registration; now it is loopback
    assert sending.post(prepared, allow_private=False) == (None, 0, "target_not_allowed")
    status, _, error = sending.post(prepared, allow_private=True)  # port 9: nothing listens
    assert status is None and error == "unreachable"
