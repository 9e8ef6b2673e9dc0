"""Postern as deployed (tests/prodlike/stack.py): production settings over real TLS.

The first journey is the one that once could not be done in production at all: no browser form
could be submitted over HTTPS, because every page sent ``Referrer-Policy: no-referrer`` and the
CSRF check requires a same-origin Referer on HTTPS posts (the testing settings had switched that
check off). It runs through nginx and on gunicorn's own TLS, the two ways the README allows.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, base: str, username: str, totp_secret: str | None = None) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if totp_secret:
        page.get_by_label(re.compile("code", re.IGNORECASE)).first.fill(
            pyotp.TOTP(totp_secret).now()
        )
        page.get_by_role("button", name=re.compile("Verify|Continue|Sign in")).click()


@pytest.fixture(params=["through nginx", "gunicorn's own TLS"])
def base_url(request, prodlike) -> str:
    if request.param == "through nginx":
        return prodlike.url
    return prodlike.direct_url or prodlike.start_direct_tls()


def test_a_browser_signs_in_creates_a_copy_link_and_the_customer_reaches_the_payment_page(
    prodlike, base_url, browser, browser_problems
):
    """Proves: over HTTPS with production settings, Chromium can post every form in the first
    steps (sign-in, create, Start, identity), and no request to another origin (Stripe.js, its
    card frame) carries the link token in its address or headers (Referer included)."""
    username = f"agent.{urlsplit(base_url).port}"
    secret = prodlike.add_staff("agent", username, DEFAULT_PASSWORD)
    assert secret, "production asks agents for a second factor (AGENT_MFA_REQUIRED)"
    agent_context = browser.new_context()
    agent = browser_problems.watch(agent_context.new_page())
    sign_in(agent, base_url, username, secret)
    expect(agent.get_by_role("heading", name="Agent console")).to_be_visible()

    agent.get_by_label("Amount").fill("12.50")
    agent.get_by_label("What the payment is for").fill("Gas bill for March")
    agent.get_by_label("Your reference").fill("ACC-2001")
    agent.get_by_label("Identity check").select_option("postcode")
    agent.get_by_label("Expected answer").fill("SW1A 1AA")
    agent.get_by_label("Copy link / QR code").check()
    agent.get_by_role("button", name="Create and send").click()
    expect(agent.get_by_role("heading", name="Link ready: ACC-2001")).to_be_visible()
    link = agent.locator("#issued-link-url").input_value()
    assert link.startswith(prodlike.url + "/c/"), "the link names the public HTTPS origin"
    token = urlsplit(link).path.split("/")[2]

    customer_context = browser.new_context()
    customer = browser_problems.watch(customer_context.new_page())
    elsewhere: list[str] = []

    def watch_request(request) -> None:
        if not request.url.startswith(base_url + "/"):
            elsewhere.append(f"{request.url} {request.headers}")

    customer.on("request", watch_request)
    customer.goto(base_url + urlsplit(link).path)
    customer.get_by_role("button", name="Start").click()
    expect(customer.get_by_role("heading", name="Confirm who you are")).to_be_visible()
    customer.get_by_label("What is the postcode of your address?").fill("SW1A 1AA")
    customer.get_by_role("button", name="Continue").click()
    customer.get_by_role("link", name="Continue to payment").click()
    # Stripe.js and its card frame come from the sandbox's own origin, as from js.stripe.com.
    frame = customer.frame_locator('iframe[title="Secure payment input frame"]')
    expect(frame.get_by_label("Card number")).to_be_visible()
    assert any(line.startswith(prodlike.sandbox.url) for line in elsewhere)
    assert not [line for line in elsewhere if token in line], "the link token left our origin"
    agent_context.close()
    customer_context.close()
