"""The Stripe.js stand-in in a real browser (Debian Chromium via Playwright), under the
portal's strict CSP: card fields in a sandbox-origin iframe, 3-D Secure, declines, redirects.

Each test also checks the browser reported no CSP violation and no JavaScript error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect, sync_playwright

from tests.support.artifacts import ARTIFACTS
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

from .checkout_site import CheckoutSite

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(sandbox, stripe_client) -> Iterator[CheckoutSite]:
    merchant = CheckoutSite(sandbox, stripe_client)
    yield merchant
    merchant.stop()


class BrowserLog:
    """Console messages and uncaught page errors, from the page and all its frames."""

    def __init__(self, page: Page) -> None:
        self.console: list[str] = []
        self.page_errors: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def assert_clean(self, *allowed: str) -> None:
        violations = [
            m for m in self.console if "Content Security Policy" in m or "Refused to" in m
        ]
        assert violations == []
        assert self.page_errors == []
        unexpected = [
            m
            for m in self.console
            if m.startswith("error:") and not any(text in m for text in allowed)
        ]
        assert unexpected == []


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    opened.browser_log = BrowserLog(opened)  # type: ignore[attr-defined]
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def card_frame(page: Page) -> FrameLocator:
    return page.frame_locator('iframe[title="Secure payment input frame"]')


def open_checkout(page: Page, site: CheckoutSite, **query: str) -> None:
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    page.goto(f"{site.url}/?{suffix}")
    expect(page.locator("#payment-form")).to_have_attribute(
        "data-ready", query.get("element", "payment")
    )


def enter_card(page: Page, number: str, expiry: str = "12 / 34", cvc: str = "123") -> None:
    frame = card_frame(page)
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Expiration date").fill(expiry)
    frame.get_by_label("Security code").fill(cvc)
    expect(page.locator("#payment-form")).to_have_attribute("data-complete", "true")


def pay(page: Page) -> None:
    page.get_by_role("button", name="Pay £25.00").click()


def outcome(page: Page):
    return expect(page.locator("#message"))


def test_successful_payment(page, site, stripe_client):
    open_checkout(page, site)
    enter_card(page, "4242 4242 4242 4242")
    pay(page)
    outcome(page).to_have_attribute("data-outcome", "succeeded")
    intent = stripe_client.v1.payment_intents.retrieve(
        site.intents[0].id, params={"expand": ["latest_charge"]}
    )
    assert intent.status == "succeeded"
    assert intent.latest_charge.payment_method_details.card.last4 == "4242"
    # The card number stayed in the sandbox's frame: never in the page, never at the merchant.
    assert "4242 4242" not in page.content()
    assert not any(
        b"4242424242424242" in body or "4242424242424242" in path for path, body in site.seen
    )
    page.browser_log.assert_clean()


def test_three_d_secure_completed(page, site, stripe_client):
    open_checkout(page, site)
    enter_card(page, "4000 0027 6000 3184")
    pay(page)
    challenge = page.frame_locator('iframe[title="3D Secure authentication"]')
    expect(page.get_by_role("dialog", name="3D Secure authentication")).to_be_visible()
    challenge.get_by_role("button", name="Complete authentication").click()
    outcome(page).to_have_attribute("data-outcome", "succeeded")
    expect(page.get_by_role("dialog")).to_have_count(0)
    intent = stripe_client.v1.payment_intents.retrieve(
        site.intents[0].id, params={"expand": ["latest_charge"]}
    )
    assert intent.status == "succeeded"
    three_d_secure = intent.latest_charge.payment_method_details.card.three_d_secure
    assert three_d_secure.result == "authenticated"
    page.browser_log.assert_clean()


def test_three_d_secure_failed_with_the_keyboard(page, site, stripe_client):
    open_checkout(page, site)
    enter_card(page, "4000002760003184")
    pay(page)
    challenge = page.frame_locator('iframe[title="3D Secure authentication"]')
    fail = challenge.get_by_role("button", name="Fail authentication")
    expect(fail).to_be_enabled()
    fail.press("Enter")
    outcome(page).to_have_attribute("data-outcome", "error")
    outcome(page).to_have_attribute("data-code", "payment_intent_authentication_failure")
    outcome(page).to_have_text(re.compile("unable to authenticate"))
    intent = stripe_client.v1.payment_intents.retrieve(site.intents[0].id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "payment_intent_authentication_failure"
    page.browser_log.assert_clean()


def test_decline_then_retry_with_another_card(page, site, stripe_client):
    open_checkout(page, site)
    enter_card(page, "4000 0000 0000 0002")
    pay(page)
    outcome(page).to_have_attribute("data-outcome", "error")
    outcome(page).to_have_attribute("data-decline-code", "generic_decline")
    outcome(page).to_have_text("Your card was declined.")
    assert stripe_client.v1.payment_intents.retrieve(site.intents[0].id).status == (
        "requires_payment_method"
    )
    enter_card(page, "5555 5555 5555 4444")
    pay(page)
    outcome(page).to_have_attribute("data-outcome", "succeeded")
    # Stripe.js's own confirm call gets the 402 decline; Chromium logs that response.
    page.browser_log.assert_clean("status of 402")


def test_validation_errors_are_announced(page, site):
    open_checkout(page, site)
    frame = card_frame(page)
    number = frame.get_by_label("Card number")
    number.press_sequentially("4242424242424241")
    expect(number).to_have_value("4242 4242 4242 4241")
    expect(frame.get_by_role("alert")).to_have_text("Your card number is invalid.")
    expect(page.locator("#payment-form")).to_have_attribute("data-error-code", "invalid_number")
    expect(number).to_have_attribute("aria-invalid", "true")
    number.fill("4242 4242 4242 4242")
    expiry = frame.get_by_label("Expiration date")
    expiry.press_sequentially("0120")
    expect(expiry).to_have_value("01 / 20")
    expect(frame.get_by_role("alert")).to_have_text("Your card's expiration year is in the past.")
    expect(page.locator("#payment-form")).to_have_attribute(
        "data-error-code", "invalid_expiry_year_past"
    )
    expect(frame.get_by_label("Security code")).to_have_attribute("autocomplete", "cc-csc")
    pay(page)  # Stripe.js refuses to confirm incomplete or invalid details
    outcome(page).to_have_attribute("data-code", "invalid_expiry_year_past")
    assert site.sandbox.requests("POST", "/v1/payment_methods") == []
    page.browser_log.assert_clean()


def test_redirect_always_goes_to_return_url(page, site):
    open_checkout(page, site, redirect="always")
    enter_card(page, "4242424242424242")
    pay(page)
    page.wait_for_url(re.compile(r"/return\?"))
    assert f"payment_intent={site.intents[0].id}" in page.url
    assert "redirect_status=succeeded" in page.url
    assert "payment_intent_client_secret=" in page.url
    page.browser_log.assert_clean()


def test_card_element_with_confirm_card_payment(page, site, stripe_client):
    open_checkout(page, site, element="card")
    enter_card(page, "5555555555554444", expiry="0440", cvc="321")
    pay(page)
    outcome(page).to_have_attribute("data-outcome", "succeeded")
    intent = stripe_client.v1.payment_intents.retrieve(site.intents[0].id)
    assert intent.status == "succeeded"
    page.browser_log.assert_clean()


def test_payment_element_offers_the_test_wallet(page, site, stripe_client):
    open_checkout(page, site)
    button = card_frame(page).get_by_test_id("sandbox-wallet-button")
    expect(button).to_have_text("Pay with test wallet")
    button.click()  # approves the wallet's sheet and submits the page's form
    outcome(page).to_have_attribute("data-outcome", "succeeded")
    intent = stripe_client.v1.payment_intents.retrieve(
        site.intents[0].id, params={"expand": ["latest_charge", "payment_method"]}
    )
    assert intent.status == "succeeded"
    assert intent.payment_method.card.wallet.type == "google_pay"
    card = intent.latest_charge.payment_method_details.card
    assert (card.brand, card.last4, card.wallet.type) == ("visa", "4242", "google_pay")
    methods = site.sandbox.requests("POST", "/v1/payment_methods")
    assert [call["params"]["card[token]"] for call in methods] == ["tok_sandbox_google_pay"]
    page.browser_log.assert_clean()


def test_typing_a_card_after_choosing_the_wallet_pays_by_card(page, site, stripe_client):
    open_checkout(page, site, redirect="if_required")
    frame = card_frame(page)
    # Choosing the wallet submits at once; make that first try fail so the customer stays.
    site.sandbox.arm_fault("500", path_prefix="/v1/payment_methods")
    frame.get_by_test_id("sandbox-wallet-button").click()
    outcome(page).to_have_attribute("data-outcome", "error")
    expect(frame.get_by_test_id("sandbox-wallet-button")).to_have_attribute("aria-pressed", "true")
    enter_card(page, "5555 5555 5555 4444")
    expect(frame.get_by_test_id("sandbox-wallet-button")).to_have_attribute("aria-pressed", "false")
    pay(page)
    outcome(page).to_have_attribute("data-outcome", "succeeded")
    intent = stripe_client.v1.payment_intents.retrieve(
        site.intents[0].id, params={"expand": ["latest_charge"]}
    )
    card = intent.latest_charge.payment_method_details.card
    assert (card.last4, card.wallet) == ("4444", None)


def test_card_element_has_no_wallet(page, site):
    open_checkout(page, site, element="card")
    expect(card_frame(page).get_by_test_id("sandbox-wallet-button")).to_be_hidden()
