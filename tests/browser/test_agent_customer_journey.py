"""An agent and a customer, each in their own browser, through one capture request.

The agent creates a request (copy link), the customer opens the link in a second browser
context, presses Start and answers the identity question; after each step the agent's panel
shows it within 2.5 seconds without a reload (console.js polling). Neither browser may report
a CSP violation or a JavaScript error.

Fixtures from tests/browser/conftest.py: ``live_server`` (the portal served on loopback, with
``.url`` and ``.app``), ``browser`` (Debian's Chromium) and ``browser_problems`` (every page
it watches fails the test on a CSP violation or a JavaScript error).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

#: The polled panel's promise (docs/scaling.md, "The fallback"): a customer's step is on the
#: agent's screen within 2.5 s, one poll interval (1.5 s) and the poll's own round trip.
LIVE_MS = 2500


@pytest.fixture
def contexts(browser):
    opened: list[BrowserContext] = []

    def new_context() -> BrowserContext:
        context = browser.new_context()
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield new_context
    for context in opened:
        context.close()


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Agent console")).to_be_visible()


def test_agent_watches_the_customer_step_by_step(
    live_server, contexts, browser_problems, make_staff
):
    base = live_server.url.rstrip("/")
    agent = make_staff("agent")
    agent_page = browser_problems.watch(contexts().new_page())
    _sign_in(agent_page, base, agent.username)
    agent_page.get_by_label("Amount").fill("12.50")
    agent_page.get_by_label("What the payment is for").fill("Gas bill for March")
    agent_page.get_by_label("Your reference").fill("ACC-1001")
    agent_page.get_by_label("Identity check").select_option("postcode")
    agent_page.get_by_label("Expected answer").fill("SW1A 1AA")
    agent_page.get_by_label("Copy link / QR code").check()
    agent_page.get_by_role("button", name="Create and send").click()

    expect(agent_page.get_by_role("heading", name="Link ready: ACC-1001")).to_be_visible()
    expect(agent_page.get_by_role("img", name="QR code for the link")).to_be_visible()
    link = agent_page.locator("#issued-link-url").input_value()
    link = base + urlsplit(link).path  # the live server's own address
    panel = agent_page.locator("[data-request]").first
    status = panel.locator(".js-label")
    expect(status).to_have_text("Link ready to give")
    agent_code = panel.locator(".readback-code").inner_text()

    customer_page = browser_problems.watch(contexts().new_page())
    customer_page.goto(link)
    expect(customer_page.get_by_role("button", name="Start")).to_be_visible()
    expect(status).to_have_text("Link opened", timeout=LIVE_MS)
    expect(panel.locator('[data-step="opened"]')).to_have_class("step step-done")

    customer_page.get_by_role("button", name="Start").click()
    expect(customer_page.get_by_role("heading", name="Confirm who you are")).to_be_visible()
    expect(customer_page.locator(".readback-code")).to_have_text(agent_code)
    expect(status).to_have_text("Started on the customer's device", timeout=LIVE_MS)

    customer_page.get_by_label("What is the postcode of your address?").fill("AB1 2CD")
    customer_page.get_by_role("button", name="Continue").click()
    expect(customer_page.get_by_role("alert")).to_contain_text("4 more tries")
    expect(panel.locator(".js-detail")).to_contain_text("1 wrong answer so far", timeout=LIVE_MS)

    customer_page.get_by_label("What is the postcode of your address?").fill("sw1a 1aa")
    customer_page.get_by_role("button", name="Continue").click()
    confirmed = customer_page.get_by_role("heading", name="Thank you, you are confirmed")
    expect(confirmed).to_be_visible()
    expect(customer_page.get_by_text("£12.50")).to_be_visible()
    expect(status).to_have_text("Identity confirmed", timeout=LIVE_MS)
    expect(panel.locator('[data-step="verified"]')).to_have_class("step step-done")
    # A verified request can no longer get a new link, but can still be revoked.
    expect(panel.locator('[data-action="resend"]')).to_be_hidden()
    expect(panel.locator('[data-action="revoke"]')).to_be_visible()

    # Another browser with the same link is turned away.
    intruder = browser_problems.watch(contexts().new_page())
    intruder.goto(link)
    intruder.get_by_role("button", name="Start").click()
    expect(
        intruder.get_by_role("heading", name="This link has already been used on another device")
    ).to_be_visible()


def test_the_console_says_when_the_session_has_ended(
    live_server, contexts, browser_problems, make_staff
):
    base = live_server.url.rstrip("/")
    agent = make_staff("agent")
    context = contexts()
    page = browser_problems.watch(context.new_page())
    _sign_in(page, base, agent.username)
    context.clear_cookies()
    expect(page.get_by_role("alert")).to_contain_text("Your session has ended", timeout=5000)


def test_copy_button_copies_the_link(live_server, contexts, browser_problems, make_staff):
    base = live_server.url.rstrip("/")
    agent = make_staff("agent")
    context = contexts()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = browser_problems.watch(context.new_page())
    _sign_in(page, base, agent.username)
    page.get_by_label("Amount").fill("5")
    page.get_by_label("What the payment is for").fill("Top-up")
    page.get_by_label("Your reference").fill("ACC-2")
    page.get_by_label("Identity check").select_option("none")
    page.get_by_label("Copy link / QR code").check()
    page.get_by_role("button", name="Create and send").click()
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_text("Link copied.")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#issued-link-url").input_value()
