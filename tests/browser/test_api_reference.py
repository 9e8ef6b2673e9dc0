"""The API reference page in Chromium: the vendored Swagger UI draws every operation of the
OpenAPI document under the strict CSP as served (the page watcher fails the test on any CSP
violation or JavaScript error)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_the_reference_draws_every_operation_without_a_csp_violation(app, live_server, page: Page):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    expected = sorted(
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        for method in ops
        if method != "parameters"
    )
    page.goto(live_server.url + "/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    methods = page.locator(".opblock-summary-method").all_inner_texts()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert sorted(f"{m} {p}" for m, p in zip(methods, paths, strict=True)) == expected
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".responses-wrapper").first).to_be_visible()
