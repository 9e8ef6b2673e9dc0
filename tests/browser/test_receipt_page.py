"""A paid link reopened in a real browser (Debian Chromium via Playwright), on a phone and on a
desktop: on the device that paid, the receipt, readable at both sizes; on any other, only that
it was paid. Never anything to pay, never "ask for a new link".

The device that paid is a test client; the browser takes over its binding cookie to be that
device, then drops it to be another. Screenshots are kept as test artifacts
(``receipt-page-390x844.png``, ``receipt-page-1366x768.png`` and
``receipt-page-elsewhere-390x844.png`` under tests/_artifacts, or POSTERN_TEST_ARTIFACTS), for
people to look at; the assertions do not depend on them.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import AxeAudit
from tests.browser.journey_support import sign_in
from tests.support.artifacts import ARTIFACTS
from tests.support.capture import path_of
from tests.support.payments import (
    confirm_in_browser,
    customer_at_payment,
    load_payment,
    sandbox_settings,
)

pytestmark = pytest.mark.browser

SIZES = ((390, 844), (1366, 768))


@pytest.fixture
def app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox))


def paid_link(app, sandbox, agent_id: int, **spec):
    """A request the customer paid on their own phone (a test client here); returns (link path,
    public id, the phone's binding cookie)."""
    customer = customer_at_payment(app, agent_id, **spec)
    assert customer.client.get(customer.pay_path).status_code == 200
    intent_id = load_payment(app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(sandbox, intent_id, "pm_card_visa")
    status = customer.client.get(customer.pay_path + "/status").get_json()
    assert status["state"] == "succeeded", status
    cookie = customer.client.get_cookie(f"postern_link_{customer.public_id}", path="/c/")
    assert cookie is not None
    return path_of(customer.url), customer.public_id, cookie


def _no_dead_end(page: Page) -> None:
    """Never an offer to pay again, never "ask for a new link", never "another device"."""
    expect(page.get_by_role("button")).to_have_count(0)
    expect(page.get_by_text("new link")).to_have_count(0)
    expect(page.get_by_text("another device")).to_have_count(0)


def _fits(page: Page, width: int) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the receipt page scrolls sideways by {overflow}px at {width}px"


def test_a_paid_link_shows_the_receipt_only_on_the_device_that_paid(
    page: Page, live_server, stripe_sandbox, make_staff
):
    link, public_id, cookie = paid_link(live_server.app, stripe_sandbox, make_staff("agent").id)
    audit = AxeAudit()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.context.add_cookies(
        [
            {
                "name": cookie.key,
                "value": cookie.value,
                "url": live_server.url + "/c/",
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )

    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_server.url + link)

        expect(page).to_have_url(live_server.url + link + "/receipt")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your receipt")
        receipt = page.get_by_test_id("receipt")
        for fact in (
            "£12.50",
            "Gas bill for March",
            "ACC-1001",
            "Visa ending 4242",
            "UK time",
            public_id,
        ):
            expect(receipt).to_contain_text(fact)
        expect(receipt).to_contain_text("There is nothing more to pay.")
        _no_dead_end(page)
        _fits(page, width)
        shot = ARTIFACTS / f"receipt-page-{width}x{height}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0
    audit.check(page, "receipt page")

    # Another device (no binding cookie): paid, nothing to pay, and none of the details.
    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + link)
    expect(page).to_have_url(live_server.url + link + "/receipt")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment received")
    elsewhere = page.get_by_test_id("receipt")
    expect(elsewhere).to_contain_text("There is nothing more to pay.")
    expect(page.get_by_test_id("receipt-where")).to_have_text(
        "We did not email a receipt for this payment. The person you spoke to at "
        "Postern Demo Ltd can tell you its details."
    )
    for detail in ("£12.50", "Gas bill", "ACC-1001", "4242", public_id):
        expect(elsewhere).not_to_contain_text(detail)
    _no_dead_end(page)
    _fits(page, 390)
    page.screenshot(path=str(ARTIFACTS / "receipt-page-elsewhere-390x844.png"), full_page=True)
    audit.check(page, "receipt page elsewhere")
    audit.assert_clean()


def run_outbox(app) -> dict:
    from portal.delivery import worker

    with app.app_context():
        return worker.run_once().as_dict()


def test_the_receipt_is_in_the_development_outbox(
    page: Page, live_server, stripe_sandbox, make_staff
):
    """An emailed link, paid: the outbox worker sends the receipt, and the development outbox
    shows it to staff as the customer receives it (text and HTML)."""
    agent = make_staff("agent")
    customer_email = "jane.receipt@example.com"
    app = live_server.app
    spec = {"channel": "email", "destination": customer_email}
    customer = customer_at_payment(app, agent.id, **spec)
    assert run_outbox(app)["sent"] == 1  # the link
    assert customer.client.get(customer.pay_path).status_code == 200
    intent_id = load_payment(app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    assert customer.client.get(customer.pay_path + "/status").get_json()["state"] == "succeeded"
    assert run_outbox(app)["sent"] == 1  # the receipt

    sign_in(page, live_server, agent.username, None, lands_on="Agent console")
    page.goto(live_server.url + "/dev/outbox")
    receipt = page.locator("section.dev-message").filter(has_text="Receipt after a payment")
    expect(receipt).to_have_count(1)
    expect(receipt).to_contain_text(f"Email to {customer_email}")
    expect(receipt).to_contain_text("Postern Demo Ltd: your receipt for £12.50")
    expect(receipt).to_contain_text("Paid with: Visa ending 4242")
    expect(receipt).to_contain_text("For: Gas bill for March")
    expect(receipt.get_by_role("link", name="Open the customer link")).to_have_count(0)
    receipt.get_by_role("link", name="View the HTML email").click()
    facts = page.locator("table.facts")  # the receipt's own table, inside the email's frame
    expect(facts.get_by_role("row", name="Paid with")).to_contain_text("Visa ending 4242")
    expect(facts.get_by_role("row", name="Reference")).to_contain_text("ACC-1001")
    page.screenshot(path=str(ARTIFACTS / "receipt-email-dev-outbox.png"), full_page=True)
