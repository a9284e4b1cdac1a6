"""The admin portal in a real browser (Debian's Chromium) against `make run`'s demo: a partner
owner and the operator sign in with password + TOTP, find an order, open it, switch language.
Screenshots of the dashboard and the order detail of two demo partners go to tests/artifacts/
(CI keeps them; they are not committed)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from app.demo import DEMO_STAFF_PASSWORD, DEMO_TOTP_SECRET, OPERATOR_EMAIL
from tests.e2e.conftest import issue_credentials

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _order_for(port: int, env: dict[str, str], partner: str) -> str:
    """A card-key order placed through the API by the partner's backend."""
    client_id, secret = issue_credentials(env, partner, "portal-e2e")
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(
        f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    catalog = httpx.get(
        f"{base}/api/v1/catalog?fulfillment_type=card_key&in_stock=true&limit=100",
        headers=headers,
    ).json()["data"]
    entry = next(e for e in catalog if not e["is_bundle"] and e["price"]["points"])
    httpx.put(f"{base}/api/v1/members/portal-m1", headers=headers, json={"display_name": "张三"})
    httpx.post(
        f"{base}/api/v1/members/portal-m1/points",
        headers={**headers, "Idempotency-Key": f"portal-grant-{partner}"},
        json={"type": "grant", "amount": 10**6, "reason": "e2e"},
    )
    placed = httpx.post(
        f"{base}/api/v1/orders",
        headers={**headers, "Idempotency-Key": f"portal-order-{partner}"},
        json={
            "member": "portal-m1",
            "items": [{"listing": entry["id"], "quantity": 1}],
            "payment": {"points": entry["price"]["points"]},
            "client_reference": f"PORTAL-{partner}",
        },
    )
    assert placed.status_code == 201, placed.text
    return str(placed.json()["id"])


def _fresh_code() -> str:
    """A TOTP code not yet used: each account signs in once per 30-second step (a code is
    never accepted twice), so wait for the next step when this one is nearly over."""
    totp = pyotp.TOTP(DEMO_TOTP_SECRET)
    if totp.interval - time.time() % totp.interval < 3:
        time.sleep(3)
    return totp.now()


def _sign_in(page: Any, base: str, email: str, password: str = DEMO_STAFF_PASSWORD) -> None:
    page.goto(base + "/admin/")
    assert "/admin/sign-in" in page.url
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    for _attempt in range(2):
        if "/admin/sign-in/code" not in page.url:
            break
        page.get_by_label("身份验证器中的验证码，或恢复码").fill(_fresh_code())
        page.get_by_role("button", name="验证").click()
        page.wait_for_load_state()
        if "/admin/sign-in/code" in page.url:  # this step's code was used already
            time.sleep(pyotp.TOTP(DEMO_TOTP_SECRET).interval - time.time() % 30 + 1)
    assert "/admin/sign-in" not in page.url
    if page.locator('[data-testid="lang-zh"]').count():  # an earlier test chose English
        page.locator('[data-testid="lang-zh"]').click()
        page.wait_for_load_state()


@pytest.mark.parametrize("partner", ["jinhai-bank", "skyway-air"])
def test_partner_owner_signs_in_finds_an_order_and_switches_language(served, browser, partner):
    port, env = served
    base = f"http://127.0.0.1:{port}"
    order_id = _order_for(port, env, partner)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    _sign_in(page, base, f"owner@{partner}.demo")

    page.locator('[data-testid="tiles"]').wait_for()
    assert "概览" in page.content()
    page.locator('[data-testid="latency-chart"]').wait_for()  # the order just placed
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"dashboard_{partner}.png", full_page=True)

    page.get_by_role("link", name="订单").first.click()
    page.get_by_label("贵方单号").fill(f"PORTAL-{partner}")
    page.get_by_role("button", name="搜索").click()  # htmx swaps the table in
    row = page.locator('[data-testid="orders"] a', has_text=order_id)
    row.wait_for()
    row.click()
    page.wait_for_url(f"**/admin/orders/{order_id}")
    assert page.locator('[data-testid="order-status"]').inner_text() == "fulfilled"
    assert "order.created" in page.locator('[data-testid="timeline"]').inner_text()
    page.screenshot(path=ARTIFACTS / f"order_{partner}.png", full_page=True)

    page.get_by_role("link", name="上架商品").click()
    page.locator('[data-testid="listings"] a').first.click()
    page.get_by_label("排序（小者在前）").fill("7")
    page.get_by_role("button", name="预览会员价").click()
    page.locator("h2", has_text="未保存").wait_for()  # previewed, not saved
    page.screenshot(path=ARTIFACTS / f"listing_{partner}.png", full_page=True)

    page.get_by_role("button", name="English").click()  # back on the listing's own page
    page.locator("h2", has_text="Member price preview").wait_for()
    page.get_by_role("link", name="Orders").first.click()
    page.locator("h1", has_text="Orders").wait_for()
    assert blocked == []  # nothing the page needs is refused by its CSP
    page.close()


def test_operator_signs_in_and_finds_any_partners_order(served, browser):
    port, env = served
    base = f"http://127.0.0.1:{port}"
    order_id = _order_for(port, env, "telelink")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    _sign_in(page, base, OPERATOR_EMAIL)
    page.wait_for_url("**/admin/platform/")
    assert page.locator('[data-testid="partners"] tbody tr').count() == 4
    page.get_by_label("订单号").fill("PORTAL-telelink")  # the partner's own reference
    page.get_by_role("button", name="查找").click()
    assert order_id in page.locator('[data-testid="found-order"]').inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "platform_console.png", full_page=True)

    # upload a code batch for the first card-key offer
    page.get_by_role("link", name="卡密批次").click()
    before = page.locator('[data-testid="batches"] tbody tr').count()
    page.set_input_files(
        'input[type="file"]',
        files=[
            {"name": "e2e.csv", "mimeType": "text/csv", "buffer": b"code\nE2E-0001\nE2E-0002\n"}
        ],
    )
    sent: list[float] = []  # the upload's progress events, as the page's script reads them
    page.on("console", lambda m: sent.append(1.0) if m.text == "upload-progress" else None)
    page.evaluate(
        "document.addEventListener('htmx:xhr:progress', () => console.log('upload-progress'))"
    )
    page.get_by_role("button", name="导入").click()
    page.locator(".flash-ok").wait_for()
    assert sent, "the upload went through htmx, reporting its progress"
    assert page.locator('[data-testid="batches"] tbody tr').count() == before + 1
    assert "E2E-0001" not in page.content()  # codes are never shown
    page.close()


def _grant_file(rows: list[tuple[str, str, str, str]]) -> bytes:
    lines = ["external_id,amount,expires_at,reason", *(",".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def test_bulk_grant_of_5000_rows_with_a_bad_row_then_fixed_applies_once(served, browser):
    """An employer's yearly allowance: one bad row blocks the whole file (the error shown, no
    points moved); the fixed file applies once, its progress bar reaching the end."""
    port, env = served
    base = f"http://127.0.0.1:{port}"
    client_id, secret = issue_credentials(env, "northstar", "grants-e2e")
    token = httpx.post(
        f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for n in range(50):
        httpx.put(f"{base}/api/v1/members/staff-{n}", headers=headers, json={"tier": "staff"})
    rows = [(f"staff-{n % 50}", "100", "2027-12-31", "2027 allowance") for n in range(5_000)]
    bad = list(rows)
    bad[2999] = ("staff-1", "-5", "2027-12-31", "2027 allowance")  # line 3001

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    _sign_in(page, base, "owner@northstar.demo")
    page.goto(base + "/admin/grants")
    page.set_input_files(
        'input[type="file"]',
        files=[{"name": "allowance.csv", "mimeType": "text/csv", "buffer": _grant_file(bad)}],
    )
    page.get_by_role("button", name="上传并校验").click()
    page.locator('[data-testid="grant-errors"]').wait_for()
    assert "3001" in page.locator('[data-testid="grant-errors"]').inner_text()
    assert page.locator('[data-testid="apply"]').count() == 0

    page.goto(base + "/admin/grants")
    page.set_input_files(
        'input[type="file"]',
        files=[
            {"name": "allowance-fixed.csv", "mimeType": "text/csv", "buffer": _grant_file(rows)}
        ],
    )
    page.get_by_role("button", name="上传并校验").click()
    page.locator('[data-testid="apply"]').click()
    page.locator('[data-testid="batch-status"]', has_text="applied").wait_for(timeout=60_000)
    assert page.locator('[data-testid="grant-progress"]').get_attribute("value") == "5000"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "bulk_grant_northstar.png", full_page=True)
    page.close()
    member = httpx.get(f"{base}/api/v1/members/staff-7", headers=headers).json()
    assert member["points_balance"] == 100 * 100  # 5,000 rows over 50 members, once


def test_support_resolves_an_after_sales_case_by_reissue(served, browser):
    port, env = served
    base = f"http://127.0.0.1:{port}"
    order_id = _order_for(port, env, "telelink")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    _sign_in(page, base, "owner@telelink.demo")
    page.goto(f"{base}/admin/orders/{order_id}")
    page.locator('[data-testid="open-case"] summary').click()
    page.get_by_label("会员反馈").fill("兑换时提示卡密无效")
    page.get_by_role("button", name="创建工单").click()
    page.wait_for_url("**/admin/cases/cas_*")
    assert "card_key" in page.locator('[data-testid="evidence"]').inner_text()
    page.get_by_label("备注（处理原因，留档）").fill("供应商确认卡密失效")
    page.locator('[data-testid="reissue"]').click()
    page.locator('[data-testid="case-status"]', has_text="reissued").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "case_telelink.png", full_page=True)
    page.goto(f"{base}/admin/orders/{order_id}")
    entitlements = page.locator('[data-testid="entitlements"]').inner_text()
    assert "revoked" in entitlements and "active" in entitlements
    page.close()


def test_owner_rotates_a_secret_and_a_colleague_approves_an_adjustment(served, browser):
    """Maker–checker in two browsers: the owner asks for 50,000 points (above the 10,000
    threshold), an operations colleague approves; the owner also rotates an API secret."""
    import subprocess

    port, env = served
    base = f"http://127.0.0.1:{port}"
    _order_for(port, env, "jinhai-bank")  # the member portal-m1 exists
    subprocess.run(
        ["flask", "staff", "create", "ops@jinhai-bank.demo", "--partner", "jinhai-bank",
         "--role", "operations", "--password", "ops-password-2026"],
        cwd=Path(__file__).resolve().parents[2], env=env, check=True, capture_output=True,
    )  # fmt: skip
    owner = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    _sign_in(owner, base, "owner@jinhai-bank.demo")

    owner.goto(base + "/admin/developers")
    owner.locator('input[name="name"]').fill("erp")
    owner.get_by_role("button", name="创建客户端").click()
    first = owner.locator('[data-testid="secret"]').inner_text()
    client_id = owner.locator('[data-testid="client-id"]').inner_text()
    owner.get_by_role("button", name="完成").click()
    owner.locator("tr", has_text=client_id).get_by_role("button", name="轮换密钥").click()
    second = owner.locator('[data-testid="secret"]').inner_text()
    assert second and second != first

    owner.goto(base + "/admin/members/portal-m1")
    before = int(owner.locator('[data-testid="points-balance"]').inner_text().replace(",", ""))
    owner.locator("summary", has_text="调整积分").click()
    owner.locator('input[name="delta"]').fill("50000")
    owner.locator('input[name="reason"]').fill("年度奖励")
    owner.get_by_role("button", name="调整", exact=True).click()
    owner.locator(".flash-ok").wait_for()
    assert owner.locator('[data-testid="points-balance"]').inner_text().replace(",", "") == str(
        before
    )

    colleague = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    _sign_in(colleague, base, "ops@jinhai-bank.demo", "ops-password-2026")
    colleague.goto(base + "/admin/approvals")
    colleague.locator('[data-testid="approvals"]').get_by_role("button", name="批准").click()
    colleague.locator(".flash-ok").wait_for()
    colleague.goto(base + "/admin/members/portal-m1")
    after = colleague.locator('[data-testid="points-balance"]').inner_text().replace(",", "")
    assert int(after) == before + 50_000
    ARTIFACTS.mkdir(exist_ok=True)
    colleague.screenshot(path=ARTIFACTS / "member_jinhai-bank.png", full_page=True)
    owner.close()
    colleague.close()
