"""Welsh for the customer in a real browser (Debian Chromium via Playwright).

- The journey, on the development server and on the production-like stack (``portal``): the
  agent chooses "Cymraeg (Welsh)" on the console, the email goes out in Welsh, and the customer
  confirms who they are, gives their address and pays, every page in Welsh (``lang="cy"``) with
  no axe-core violation; the "English" link at the top then shows the same page in English.
- Screenshots of every state of the customer's pages, in English and in Welsh, at 390 and 1366
  pixels wide, kept as test artifacts for people to review (tests/_artifacts/customer-pages/
  <language>/<state>-<width>x<height>.png, or under POSTERN_TEST_ARTIFACTS). The assertions
  (headings, ``lang``, axe-core) do not depend on them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import axe_violations, describe
from tests.browser.journey_support import (
    ADDRESS,
    OUTCOME_MS,
    Portal,
    open_emailed_link,
    press_pay,
    sign_in,
)
from tests.browser.stripe_card import CARD, enter_card
from tests.support.artifacts import ARTIFACTS
from tests.support.capture import create_direct, path_of
from tests.support.chromium import BrowserProblems
from tests.support.payments import live_portal, sandbox_settings, webhook_worker

pytestmark = pytest.mark.browser

SIZES = ({"width": 390, "height": 844}, {"width": 1366, "height": 768})
SHOTS = ARTIFACTS / "customer-pages"


def no_axe_violations(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, describe(violations)


def in_welsh(page: Page) -> None:
    """The page says it is Welsh, offers English (in English), and axe finds nothing."""
    assert page.locator("html").get_attribute("lang") == "cy"
    switch = page.get_by_test_id("language-switch")
    expect(switch).to_have_text("English")
    assert switch.get_attribute("lang") == "en" and switch.get_attribute("hreflang") == "en"
    no_axe_violations(page)


# -- the journey, on both places Postern runs ------------------------------------------------


def test_a_welsh_customer_journey_from_the_console_to_the_payment(portal: Portal, actor):
    username, secret = portal.make_staff("agent")
    agent = actor()
    sign_in(agent, portal, username, secret, lands_on="Agent console")
    reference = f"ACC-{secrets.token_hex(3).upper()}"
    address = f"cymraeg.{secrets.token_hex(3)}@example.com"
    form = agent.locator("form.create-form")
    form.get_by_label("Payment and personal details", exact=True).check()
    form.get_by_label("Details to collect").select_option(label="Postal address")
    form.get_by_label("Amount").fill("18.40")
    form.get_by_label("What the payment is for").fill("Bil dŵr")
    form.get_by_label("Your reference").fill(reference)
    form.get_by_label("Identity check").select_option("postcode")
    form.get_by_label("Expected answer").fill("SW1A 1AA")
    form.get_by_label("Language").select_option(label="Cymraeg (Welsh)")
    form.get_by_label("Email", exact=True).check()
    form.get_by_label("Customer's mobile number or email address").fill(address)
    form.get_by_role("button", name="Create and send").click()
    expect(agent.get_by_role("status")).to_contain_text("Request created")

    email = portal.email_to(address)
    assert email["Subject"] == f"{portal.org_name}: eich dolen ddiogel o'n galwad"
    text = email.get_body(preferencelist=("plain",)).get_content()
    assert "Ni fyddwn byth yn gofyn am fanylion eich cerdyn" in text

    customer = actor()
    open_emailed_link(customer, portal, email)
    expect(
        customer.get_by_role("heading", name=f"Dolen ddiogel gan {portal.org_name}")
    ).to_be_visible()
    in_welsh(customer)
    customer.get_by_role("button", name="Dechrau").click()
    expect(customer.get_by_role("heading", name="Cadarnhewch pwy ydych chi")).to_be_visible()
    in_welsh(customer)
    customer.get_by_label("Beth yw cod post eich cyfeiriad?").fill("SW1A 1AA")
    customer.get_by_role("button", name="Parhau").click()
    expect(
        customer.get_by_role("heading", name="Diolch, rydych wedi cael eich cadarnhau")
    ).to_be_visible()
    expect(customer.locator(".summary-amount")).to_have_text("£18.40")
    in_welsh(customer)

    customer.get_by_role("link", name="Parhau", exact=True).click()
    expect(customer.get_by_role("heading", name="Eich cyfeiriad post")).to_be_visible()
    expect(customer.get_by_text("Cam 1 o 2: eich manylion")).to_be_visible()
    in_welsh(customer)
    for selector, value in ADDRESS.items():
        customer.locator(selector).fill(value)
    customer.get_by_role("button", name="Anfon fy manylion").click()
    expect(customer.get_by_role("heading", name="Manylion wedi dod i law")).to_be_visible()
    in_welsh(customer)
    customer.get_by_role("link", name="Parhau i'r taliad").click()

    expect(customer.get_by_text("Cam 2 o 2: talu")).to_be_visible()
    pay = customer.get_by_role("button", name="Talu £18.40")
    expect(pay).to_be_enabled()
    in_welsh(customer)
    enter_card(customer, CARD)
    press_pay(pay)
    expect(customer.get_by_role("heading", name="Taliad wedi dod i law")).to_be_visible(
        timeout=OUTCOME_MS
    )
    expect(customer.get_by_text("Visa yn gorffen â 4242")).to_be_visible()
    in_welsh(customer)

    # "English", at the top of the page, shows the same page in English, and keeps to it.
    customer.get_by_test_id("language-switch").click()
    expect(customer.get_by_role("heading", name="Payment received")).to_be_visible()
    assert customer.locator("html").get_attribute("lang") == "en-GB"
    expect(customer.get_by_test_id("language-switch")).to_have_text("Cymraeg")
    customer.reload()
    expect(customer.get_by_role("heading", name="Payment received")).to_be_visible()
    no_axe_violations(customer)


# -- screenshots of every customer page state, in both languages, at both widths ------------


@pytest.fixture
def site(app_factory, stripe_sandbox) -> Iterator[tuple]:
    app = app_factory(**sandbox_settings(stripe_sandbox, STRIPE_TIMEOUT_SECONDS=5))
    with live_portal(app) as base_url, webhook_worker(app):
        yield app, base_url


@pytest.fixture
def customer(browser: Browser, browser_problems: BrowserProblems) -> Iterator[Page]:
    context = browser.new_context(viewport=SIZES[0])
    page = browser_problems.watch(context.new_page())
    yield page
    context.close()


class Camera:
    """Saves the page as it is now at each width, checks its language and axe-core."""

    def __init__(self, page: Page, language: str):
        self.page, self.language = page, language
        self.folder = SHOTS / language
        self.folder.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    def __call__(self, state: str) -> None:
        expected = "cy" if self.language == "cy" else "en-GB"
        assert self.page.locator("html").get_attribute("lang") == expected, state
        for size in SIZES:
            self.page.set_viewport_size(size)
            path = self.folder / f"{state}-{size['width']}x{size['height']}.png"
            self.page.screenshot(path=str(path), full_page=True)
            self.saved.append(path)
        self.page.set_viewport_size(SIZES[0])
        no_axe_violations(self.page)


#: The words each walk looks for, per language.
WORDS = {
    "en": {
        "landing": "Secure link from Postern Demo Ltd",
        "start": "Start",
        "confirm": "Confirm who you are",
        "question": "What is the postcode of your address?",
        "continue": "Continue",
        "problem": "There is a problem",
        "summary": "Thank you, you are confirmed",
        "details": "Your postal address",
        "send": "Send my details",
        "decline": "I do not want to give these details",
        "sure": "Are you sure you do not want to give these details?",
        "back": "Go back",
        "received": "Details received",
        "to_payment": "Continue to payment",
        "pay": "Pay £12.50",
        "paid": "Payment received",
        "receipt": "Your receipt",
        "declined_heading": "You chose not to give these details",
        "yes": "Yes, I do not want to give them",
        "tampered": "This link is not complete",
        "not_found": "Page not found",
    },
    "cy": {
        "landing": "Dolen ddiogel gan Postern Demo Ltd",
        "start": "Dechrau",
        "confirm": "Cadarnhewch pwy ydych chi",
        "question": "Beth yw cod post eich cyfeiriad?",
        "continue": "Parhau",
        "problem": "Mae problem wedi codi",
        "summary": "Diolch, rydych wedi cael eich cadarnhau",
        "details": "Eich cyfeiriad post",
        "send": "Anfon fy manylion",
        "decline": "Nid wyf am roi'r manylion hyn",
        "sure": "Ydych chi'n siŵr nad ydych am roi'r manylion hyn?",
        "back": "Mynd yn ôl",
        "received": "Manylion wedi dod i law",
        "to_payment": "Parhau i'r taliad",
        "pay": "Talu £12.50",
        "paid": "Taliad wedi dod i law",
        "receipt": "Eich derbynneb",
        "declined_heading": "Gwnaethoch ddewis peidio â rhoi'r manylion hyn",
        "yes": "Ydw, nid wyf am eu rhoi",
        "tampered": "Nid yw'r ddolen hon yn gyflawn",
        "not_found": "Heb ddod o hyd i'r dudalen",
    },
}


def heading(page: Page, name: str):
    return expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(
        timeout=OUTCOME_MS
    )


@pytest.mark.parametrize("language", ["en", "cy"])
def test_every_customer_page_state_is_photographed_in_both_languages(
    customer: Page, site, make_staff, language
):
    app, base_url = site
    words, shoot = WORDS[language], Camera(customer, language)
    agent_id = make_staff("agent").id

    # Payment and address: landing, identity (and its error), summary, the details form (and
    # its errors), received, payment, paid, and the receipt of the reopened link.
    _, url = create_direct(app, agent_id, kind="both", field_set="address", language=language)
    customer.goto(base_url + path_of(url))
    heading(customer, words["landing"])
    shoot("01-landing")
    customer.get_by_role("button", name=words["start"]).click()
    heading(customer, words["confirm"])
    shoot("02-identity")
    customer.get_by_label(words["question"]).fill("AB1 2CD")
    customer.get_by_role("button", name=words["continue"]).click()
    heading(customer, words["problem"])
    shoot("03-identity-wrong-answer")
    customer.get_by_label(words["question"]).fill("SW1A 1AA")
    customer.get_by_role("button", name=words["continue"]).click()
    heading(customer, words["summary"])
    shoot("04-summary")
    customer.get_by_role("link", name=words["continue"], exact=True).click()
    heading(customer, words["details"])
    shoot("05-details")
    customer.get_by_role("button", name=words["send"]).click()
    heading(customer, words["problem"])
    shoot("06-details-errors")
    for selector, value in ADDRESS.items():
        customer.locator(selector).fill(value)
    customer.get_by_role("button", name=words["send"]).click()
    heading(customer, words["received"])
    shoot("07-details-received")
    customer.get_by_role("link", name=words["to_payment"]).click()
    pay = customer.get_by_role("button", name=words["pay"])
    expect(pay).to_be_enabled()
    shoot("08-pay")
    enter_card(customer, CARD)
    press_pay(pay)
    heading(customer, words["paid"])
    shoot("09-paid")
    customer.goto(base_url + path_of(url))
    heading(customer, words["receipt"])
    shoot("10-receipt")

    # A data request the customer declines: the "are you sure?" page and its outcome.
    _, url = create_direct(
        app,
        agent_id,
        kind="data",
        field_set="date_of_birth",
        amount_minor=None,
        currency=None,
        purpose=None,
        identity_item=None,
        identity_value=None,
        language=language,
    )
    customer.goto(base_url + path_of(url))
    customer.get_by_role("button", name=words["start"]).click()
    heading(customer, words["summary"])
    customer.get_by_role("link", name=words["continue"], exact=True).click()
    customer.get_by_role("link", name=words["decline"]).click()
    heading(customer, words["sure"])
    shoot("11-details-decline-are-you-sure")
    customer.get_by_role("button", name=words["yes"]).click()
    heading(customer, words["declined_heading"])
    shoot("12-details-declined")

    # A link cut short, and an address that is not a page: no request says which language,
    # so the customer's own choice (the switch's ``?lang=``, kept in a cookie) does.
    customer.goto(base_url + path_of(url)[:-4] + f"?lang={language}")
    heading(customer, words["tampered"])
    shoot("13-link-not-complete")
    customer.goto(base_url + path_of(url) + "/no-such-page")
    heading(customer, words["not_found"])
    shoot("14-page-not-found")
    assert len(shoot.saved) == 28 and all(path.stat().st_size for path in shoot.saved)
