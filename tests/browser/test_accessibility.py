"""WCAG 2.2 AA on every customer page and state, checked by axe-core in Chromium.

Every page a customer can meet is rendered by the live portal (with the Stripe sandbox behind
it) and checked as the customer's browser shows it: the landing page and every reason a link
may not work, the identity question (asked, answered wrongly, unreadable, locked), the summary,
the personal-data step (asked, with errors, sent, declined), the payment page (ready, after a
declined card) and the payment confirmation. Each test also fails on any CSP violation or
JavaScript error (tests/browser/conftest.py): axe runs without weakening the page's CSP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import AxeAudit, axe_violations
from tests.support.capture import create_direct, path_of, update_request
from tests.support.chromium import BrowserProblems
from tests.support.payments import WEBHOOK_SECRET, live_portal, sandbox_settings, webhook_worker

pytestmark = pytest.mark.browser

DATA = {"kind": "data", "field_set": "address", "amount_minor": None, "currency": None}
DOB = {"kind": "data", "field_set": "date_of_birth", "amount_minor": None, "currency": None}


class Portal:
    def __init__(self, app, base_url: str, agent_id: int) -> None:
        self.app, self.base_url, self.agent_id = app, base_url, agent_id

    def link(self, **spec) -> tuple[str, str]:
        public_id, url = create_direct(self.app, self.agent_id, **spec)
        return public_id, self.base_url + path_of(url)

    def set(self, public_id: str, **values) -> None:
        update_request(self.app, public_id, **values)


@pytest.fixture
def portal(app_factory, stripe_sandbox, make_staff) -> Iterator[Portal]:
    app = app_factory(**sandbox_settings(stripe_sandbox, STRIPE_TIMEOUT_SECONDS=5))
    agent_id = make_staff("agent").id
    with live_portal(app) as base_url, webhook_worker(app):
        stripe_sandbox.set_webhook(f"{base_url}/webhooks/stripe", WEBHOOK_SECRET)
        yield Portal(app, base_url, agent_id)
        stripe_sandbox.set_webhook(None)


@pytest.fixture
def audit() -> AxeAudit:
    return AxeAudit()


@pytest.fixture
def second_page(browser: Browser, browser_problems: BrowserProblems) -> Iterator[Page]:
    """Another browser (its own cookies): for "already used on another device"."""
    context = browser.new_context()
    yield browser_problems.watch(context.new_page())
    context.close()


def start(page: Page, link: str) -> None:
    page.goto(link)
    page.get_by_role("button", name="Start").click()


def verify(page: Page, link: str) -> None:
    start(page, link)
    page.get_by_label("What is the postcode of your address?").fill("SW1A 1AA")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, you are confirmed")).to_be_visible()


def problem(page: Page, name: str) -> None:
    expect(page.locator(f'[data-problem="{name}"]')).to_be_visible()


def test_landing_and_every_link_problem(page, second_page, portal, audit):
    from portal.capture import links

    public_id, link = portal.link()
    page.goto(link)
    audit.check(page, "landing")

    # Start from a page that lost its token: the landing page again (Start's token is the
    # link's), saying so, with a fresh token under the Start button.
    page.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "This page has expired. Please press Start again."
    )
    expect(page.get_by_role("button", name="Start")).to_be_visible()
    audit.check(page, "landing, form expired (400)")

    start(page, link)
    # Any later form that lost its token: "This form has expired" (the CSRF error page).
    expect(page.get_by_role("heading", name="Confirm who you are")).to_be_visible()
    page.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    page.get_by_label("What is the postcode of your address?").fill("SW1A 1AA")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    audit.check(page, "form expired (400)")

    second_page.goto(link)
    second_page.get_by_role("button", name="Start").click()
    problem(second_page, "other_device")
    audit.check(second_page, "already used on another device (409)")

    token = path_of(link).rsplit("/", 1)[1]
    page.goto(f"{portal.base_url}/c/{token[:-3]}")
    problem(page, "tampered")
    audit.check(page, "tampered")

    with portal.app.app_context():
        claim = links.read_token(token)
        foreign = links.serializer(["another-key-" + "k" * 30]).dumps(
            [claim.public_id, claim.nonce]
        )
        unknown = links.make_token("ZZZZZZZZZZ", claim.nonce)

        class OldClock(TimestampSigner):
            def get_timestamp(self) -> int:
                return super().get_timestamp() - 61 * 60

        old = links.serializer(signer=OldClock).dumps([claim.public_id, claim.nonce])
    for name, bad in (("foreign", foreign), ("unknown", unknown), ("link_expired", old)):
        page.goto(f"{portal.base_url}/c/{bad}")
        problem(page, name)
        audit.check(page, name)

    from portal.models.types import utcnow

    for name, values in (
        ("expired", {"expires_at": utcnow() - timedelta(seconds=1)}),
        ("revoked", {"status": "revoked"}),
        ("locked", {"status": "locked"}),
        ("finished", {"status": "succeeded"}),
        ("replaced", {"link_nonce_hash": "0" * 64}),
    ):
        other_id, other_link = portal.link()
        portal.set(other_id, **values)
        page.goto(other_link)
        problem(page, name)
        audit.check(page, name)

    page.goto(f"{portal.base_url}/no-such-page")
    audit.check(page, "not found (404)")
    audit.assert_clean()


def test_identity_check_in_every_state(page, portal, audit):
    _, link = portal.link()
    start(page, link)
    expect(page.get_by_role("heading", name="Confirm who you are")).to_be_visible()
    audit.check(page, "identity question")

    answer = page.get_by_label("What is the postcode of your address?")
    answer.fill("")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".error-summary")).to_be_visible()
    audit.check(page, "identity, empty answer")

    answer.fill("AB1 2CD")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".error-summary")).to_contain_text("does not match our records")
    audit.check(page, "identity, wrong answer")

    answer.fill("not a postcode!!")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".error-message")).to_be_visible()
    audit.check(page, "identity, unreadable answer")

    for _ in range(5):
        if page.locator('[data-problem="locked"]').count():
            break
        page.get_by_label("What is the postcode of your address?").fill("AB1 2CD")
        page.get_by_role("button", name="Continue").click()
    problem(page, "locked")
    audit.check(page, "identity, locked")
    audit.assert_clean()


def test_summary_and_personal_data_step(page, portal, audit):
    _, link = portal.link(**DATA)
    verify(page, link)
    audit.check(page, "summary, data request")

    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Your postal address")).to_be_visible()
    audit.check(page, "details form")

    page.get_by_label("Address line 1").fill("17 Quillfeather Mews")
    page.get_by_label("Postcode").fill("ZE2 9Q")
    page.get_by_role("button", name="Send my details").click()
    expect(page.locator(".error-summary")).to_be_visible()
    audit.check(page, "details form with errors")

    page.get_by_label("Town or city").fill("Wexcombe Parva")
    page.get_by_label("Postcode").fill("ZE2 9QX")
    page.get_by_role("button", name="Send my details").click()
    expect(page.get_by_role("heading", name="Details received")).to_be_visible()
    audit.check(page, "details received")
    page.goto(link + "/summary")
    audit.check(page, "summary, complete")

    _, link = portal.link(**DOB)
    verify(page, link)
    page.get_by_role("link", name="Continue").click()
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("13")
    page.get_by_role("button", name="Send my details").click()
    expect(page.locator(".error-summary")).to_be_visible()
    audit.check(page, "date of birth with errors")
    page.get_by_role("link", name="I do not want to give these details").click()
    expect(
        page.get_by_role("heading", name="Are you sure you do not want to give these details?")
    ).to_be_visible()
    audit.check(page, "are you sure you do not want to give them")
    page.get_by_role("button", name="Yes, I do not want to give them").click()
    expect(page.get_by_role("heading", name="You chose not to give these details")).to_be_visible()
    audit.check(page, "details declined")
    page.goto(link + "/summary")
    audit.check(page, "summary, declined")
    audit.assert_clean()


def card_form(page: Page):
    return page.frame_locator('iframe[title="Secure payment input frame"]')


def test_payment_pages(page, portal, audit):
    _, link = portal.link(kind="both", field_set="contact")
    verify(page, link)
    audit.check(page, "summary, payment and details")

    _, link = portal.link()
    verify(page, link)
    audit.check(page, "summary, payment")
    page.get_by_role("link", name="Continue to payment").click()
    pay = page.get_by_role("button", name="Pay £12.50")
    expect(pay).to_be_enabled()
    audit.check(page, "payment page")

    card_form(page).get_by_label("Card number").fill("4000 0000 0000 0002")
    card_form(page).get_by_label("Expiration date").fill("12 / 34")
    card_form(page).get_by_label("Security code").fill("123")
    pay.click()
    message = page.locator("#payment-message")
    expect(message).to_contain_text("Your bank declined this payment")
    # Announced without moving the focus (WCAG 4.1.3 status message).
    expect(message).to_have_attribute("role", "status")
    expect(message).to_have_attribute("aria-live", "polite")
    expect(pay).to_be_enabled()
    audit.check(page, "payment page, card declined")

    card_form(page).get_by_label("Card number").fill("4242 4242 4242 4242")
    pay.click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    audit.check(page, "payment received")
    page.goto(link + "/summary")
    audit.check(page, "summary, paid")
    audit.assert_clean()


def test_the_check_is_not_vacuous(page, portal):
    """axe really runs under the page's CSP and reports what is wrong."""
    _, link = portal.link()
    page.goto(link)
    page.locator("h1").evaluate(
        "h1 => { h1.style.color = '#b0b0b0'; const img = document.createElement('img');"
        " img.src = '/static/none.png'; h1.after(img); }"
    )
    ids = {violation["id"] for violation in axe_violations(page)}
    assert {"image-alt", "color-contrast"} <= ids
