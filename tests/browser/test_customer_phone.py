"""The customer's pages on a phone (390 x 844, an iPhone 14's viewport) in Chromium: the card
form starts within the first screen, the date of birth's three boxes sit side by side, and a
declined card's message is shown once. Each page is also checked with axe-core."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import axe_violations, describe
from tests.browser.stripe_card import DECLINED_CARD, enter_card
from tests.support.capture import create_direct, path_of
from tests.support.chromium import BrowserProblems
from tests.support.payments import live_portal, sandbox_settings, webhook_worker

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
#: Set to a directory to keep a screenshot of every page these tests visit, to look at.
SHOTS = os.environ.get("POSTERN_SCREENSHOTS")


@pytest.fixture
def site(app_factory, stripe_sandbox) -> Iterator[tuple]:
    app = app_factory(**sandbox_settings(stripe_sandbox, STRIPE_TIMEOUT_SECONDS=5))
    with live_portal(app) as base_url, webhook_worker(app):
        yield app, base_url


@pytest.fixture(params=[PHONE, LAPTOP], ids=["phone", "laptop"])
def viewport(request) -> dict:
    return request.param


@pytest.fixture
def screen(browser: Browser, browser_problems: BrowserProblems, viewport) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport)
    page = browser_problems.watch(context.new_page())
    yield page
    context.close()


def look(page: Page, name: str) -> None:
    """Keep a screenshot for a person to look at (only when POSTERN_SCREENSHOTS is set), and
    check the page with axe: no violations."""
    if SHOTS:
        size = page.viewport_size
        page.screenshot(path=f"{SHOTS}/{name}-{size['width']}x{size['height']}.png")
        page.screenshot(
            path=f"{SHOTS}/{name}-{size['width']}x{size['height']}-full.png", full_page=True
        )
    violations = axe_violations(page)
    assert not violations, describe(violations)


def verified(page: Page, base_url: str, app, agent_id: int, **spec) -> None:
    """Open a new request's link, press Start and answer the question: on the summary."""
    _, url = create_direct(app, agent_id, **spec)
    page.goto(base_url + path_of(url))
    page.get_by_role("button", name="Start").click()
    page.get_by_label("What is the postcode of your address?").fill("SW1A 1AA")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, you are confirmed")).to_be_visible()


def test_the_card_form_starts_within_the_first_screen(screen, site, make_staff, viewport):
    app, base_url = site
    verified(screen, base_url, app, make_staff("agent").id, kind="both", field_set="address")
    look(screen, "summary-both")
    screen.get_by_role("link", name="Continue").click()
    expect(screen.get_by_text("Step 1 of 2: your details")).to_be_visible()
    look(screen, "details")
    screen.locator("#address_line1").fill("17 Quillfeather Mews")
    screen.locator("#town").fill("Wexcombe Parva")
    screen.locator("#postcode").fill("ZE2 9QX")
    screen.get_by_role("button", name="Send my details").click()
    expect(screen.get_by_role("heading", name="Details received")).to_be_visible()
    look(screen, "details-received")
    screen.get_by_role("link", name="Continue to payment").click()

    expect(screen.get_by_role("button", name="Pay £12.50")).to_be_enabled()
    card = screen.locator("#payment-element").bounding_box()
    assert card["y"] < viewport["height"], card  # the top of the card form is in sight
    if viewport is PHONE:  # and on a phone, the whole form down to its Pay button
        button = screen.get_by_role("button", name="Pay £12.50").bounding_box()
        assert button["y"] + button["height"] <= viewport["height"], button
    # What the customer must know is still there: the amount, and who is asking.
    expect(screen.get_by_role("heading", name="Pay £12.50 to Postern Demo Ltd")).to_be_visible()
    expect(screen.get_by_text("Step 2 of 2: payment")).to_be_visible()
    look(screen, "pay")


def test_a_declined_card_is_explained_once(screen, site, make_staff, viewport):
    app, base_url = site
    verified(screen, base_url, app, make_staff("agent").id)
    screen.get_by_role("link", name="Continue to payment").click()
    pay = screen.get_by_role("button", name="Pay £12.50")
    expect(pay).to_be_enabled()

    enter_card(screen, DECLINED_CARD)
    pay.scroll_into_view_if_needed()
    pay.click()

    declined = screen.get_by_text("Your bank declined this payment")
    expect(declined).to_have_count(1)
    expect(declined).to_be_visible()
    frame = screen.frame_locator('iframe[title="Secure payment input frame"]')
    expect(frame.get_by_text("declined")).to_have_count(0)
    look(screen, "pay-declined")
    screen.reload()
    expect(screen.get_by_role("button", name="Pay £12.50")).to_be_enabled()
    expect(screen.get_by_text("Your bank declined this payment")).to_have_count(1)
    look(screen, "pay-declined-reloaded")


def test_date_of_birth_boxes_sit_side_by_side(screen, site, make_staff, viewport):
    app, base_url = site
    verified(
        screen,
        base_url,
        app,
        make_staff("agent").id,
        kind="data",
        field_set="date_of_birth",
        amount_minor=None,
        currency=None,
    )
    screen.get_by_role("link", name="Continue").click()
    day, month, year = (screen.get_by_label(name, exact=True) for name in ("Day", "Month", "Year"))
    boxes = [box.bounding_box() for box in (day, month, year)]
    assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"], boxes  # one row
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert boxes[0]["width"] < 80 and boxes[2]["width"] < 120, boxes  # sized to what they hold
    look(screen, "date-of-birth")
    screen.get_by_role("link", name="I do not want to give these details").click()
    expect(
        screen.get_by_role("heading", name="Are you sure you do not want to give these details?")
    ).to_be_visible()
    look(screen, "decline-question")


def test_a_card_form_error_is_shown_once(screen, site, make_staff, viewport):
    """Stripe's Payment Element shows what is wrong with a field beside the field itself; the
    page does not repeat it underneath (it used to: the same words twice, one in red bold)."""
    app, base_url = site
    verified(screen, base_url, app, make_staff("agent").id)
    screen.get_by_role("link", name="Continue to payment").click()
    pay = screen.get_by_role("button", name="Pay £12.50")
    expect(pay).to_be_enabled()
    frame = screen.frame_locator('iframe[title="Secure payment input frame"]')
    frame.get_by_label("Card number").fill("4000 0000 0000")

    pay.scroll_into_view_if_needed()
    pay.click()

    expect(frame.get_by_text("Your card number is incomplete.")).to_be_visible()
    expect(pay).to_be_enabled()
    expect(screen.get_by_text("Your card number is incomplete.")).to_have_count(0)
    expect(screen.locator("#payment-message")).to_have_text("")
    look(screen, "pay-incomplete-card")
