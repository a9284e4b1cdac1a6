"""The docs pages render in a real browser (Swagger UI 5 reading OpenAPI 3.1), offline: each
shows its operations, the error catalog's link works, and no request leaves the server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHOTS = Path(os.environ.get("QUANYI_SCREENSHOTS", "/tmp/quanyi-screenshots"))


@pytest.mark.parametrize(
    ("page_path", "operation_path", "summary"),
    [
        ("/api/v1/docs", "/api/v1/orders", "Place an order."),
        ("/api/v1/platform/docs", "/api/v1/platform/partners", "Create a partner."),
    ],
)
def test_a_docs_page_renders_its_operations(served, browser, page_path, operation_path, summary):
    port, _ = served
    base = f"http://127.0.0.1:{port}"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((base, "data:")) else None,
    )
    page.goto(base + page_path)
    operation = page.locator(".opblock-summary", has_text=summary).first
    operation.wait_for(state="visible", timeout=15_000)
    assert operation_path in operation.inner_text()
    assert "Unable to render" not in page.content()
    operation.click()  # expands: its error responses with their codes
    page.locator(".responses-table").first.wait_for(state="visible", timeout=5_000)
    assert "application/problem+json" in page.content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"docs{page_path.replace('/', '_')}.png", full_page=False)
    assert outside == []
    page.close()


def test_the_error_catalog_page_is_linked_from_the_docs(served, browser):
    port, _ = served
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{port}/api/v1/docs")
    page.get_by_role("link", name="Error codes").click()
    page.locator("tr#out_of_stock").wait_for(state="visible", timeout=5_000)
    assert "Out of stock" in page.locator("tr#out_of_stock").inner_text()
    page.screenshot(path=SHOTS / "docs_errors.png")
    page.close()
