"""The agent watches the personal-data step live: each field turns "Received" (or "Customer
declined") in their panel without a reload, and no value ever reaches their browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.customer_details import ADDRESS, DATA_SPEC, Customer
from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

LIVE_MS = 3000


def test_the_panel_shows_each_field_arrive(page, live_server, make_staff):
    agent = make_staff("agent")
    customer = Customer(live_server.app, agent.id, **DATA_SPEC)
    page.goto(live_server.url + "/login")
    page.get_by_label("Username").fill(agent.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    panel = page.locator(f'[data-request="{customer.public_id}"]')
    town = panel.locator('[data-field="town"]')
    expect(town).to_contain_text("Waiting for the customer")

    customer.send(ADDRESS)

    expect(town).to_have_attribute("data-state", "received", timeout=LIVE_MS)
    expect(town.locator(".js-data-state")).to_have_text("Received")
    expect(panel.locator('[data-field="county"] .js-data-state')).to_have_text(
        "Not given (optional)"
    )
    expect(panel.locator(".js-label")).to_have_text("Completed")
    html = page.content()
    for value in ("Quillfeather", "Wexcombe", "ZE2 9QX"):
        assert value not in html
