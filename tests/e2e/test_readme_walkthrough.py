"""The README's curl walk-through, run for real against a served instance seeded like `make run`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import issue_credentials


def _readme_block(repo_root: Path, marker: str) -> str:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    return next(b for b in blocks if marker in b)


def _run(
    script: str, port: int, repo_root: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    script = script.replace("127.0.0.1:5000", f"127.0.0.1:{port}").replace(
        ".venv/bin/flask", "flask"
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_readme_curl_sequence_returns_token_then_own_profile(served, repo_root):
    port, env = served
    result = _run(
        _readme_block(repo_root, "partners credentials jinhai-bank"), port, repo_root, env
    )
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout.strip().splitlines()[-1])
    assert profile["slug"] == "jinhai-bank"
    assert profile["kind"] == "bank"
    assert profile["id"].startswith("prt_")


def test_readme_redeem_sequence_reveals_a_code(served, repo_root):
    port, env = served
    login = _readme_block(repo_root, "partners credentials jinhai-bank")
    redeem = _readme_block(repo_root, "/reveal")
    result = _run(login + "\n" + redeem, port, repo_root, env)
    assert result.returncode == 0, result.stderr
    revealed = json.loads(result.stdout.strip().splitlines()[-1])
    assert revealed["entitlement_id"].startswith("ent_")
    assert revealed["code"].endswith(revealed["masked_code"][-4:])


def test_readme_billing_sequence_downloads_last_months_invoice(served, repo_root):
    port, env = served
    login = _readme_block(repo_root, "partners credentials jinhai-bank")
    billing = _readme_block(repo_root, "flask billing invoice --partner")
    result = _run(login + "\n" + billing, port, repo_root, env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    made = next(line for line in lines if line.startswith("QY-"))
    assert re.match(r"QY-JINHAI-BANK-\d{4}-\d\d issued \((created|exists)\) total 530\.00", made)
    number, kind, amount_minor, _, currency = lines[-1].split(",")
    assert (number, kind, amount_minor, currency) == (made.split()[0], "total", "53000", "CNY")


def test_direct_recharge_order_is_fulfilled_within_seconds_in_embedded_mode(served):
    """`make run`: no Redis, jobs in-process, the simulated supplier mounted; a direct
    recharge reaches `fulfilled` through a real supplier call and its callback."""
    port, env = served
    client_id, secret = issue_credentials(env, "jinhai-bank", "embedded")
    base = f"http://127.0.0.1:{port}"
    import httpx

    token = httpx.post(
        f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    catalog = httpx.get(
        f"{base}/api/v1/catalog?fulfillment_type=direct_recharge&limit=100", headers=headers
    ).json()["data"]
    entry = next(e for e in catalog if e["recharge_account_kind"] in ("phone", "qq"))
    account = "13912345678" if entry["recharge_account_kind"] == "phone" else "123456789"
    httpx.put(f"{base}/api/v1/members/dr-1", headers=headers, json={"display_name": "x"})
    httpx.post(
        f"{base}/api/v1/members/dr-1/points",
        headers={**headers, "Idempotency-Key": "g"},
        json={"type": "grant", "amount": 10**6, "reason": "t"},
    )
    placed = httpx.post(
        f"{base}/api/v1/orders",
        headers={**headers, "Idempotency-Key": "dr"},
        json={
            "member": "dr-1",
            "items": [{"listing": entry["id"], "quantity": 1, "recharge_account": account}],
            "payment": {"points": entry["price"]["points"]},
        },
    )
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "processing"
    deadline = time.monotonic() + 20
    status = "processing"
    while status == "processing" and time.monotonic() < deadline:
        time.sleep(0.3)
        status = httpx.get(f"{base}/api/v1/orders/{placed.json()['id']}", headers=headers).json()[
            "status"
        ]
    assert status == "fulfilled"
