"""The whole customer payment in a real browser (Debian Chromium via Playwright): the portal
served live, the Stripe sandbox's Stripe.js and card iframe, its 3-D Secure page, and its
webhooks coming back to the portal.

A recorder wraps the portal's WSGI app and keeps every request the portal receives (method,
path, query, headers, body) so the tests can prove that none of them carries the card number
or the security code typed into Stripe's iframe. Each test also checks that the browser
reported no CSP violation and no JavaScript error (``tests/browser/conftest.py`` fails the
test otherwise; it also provides the session's Chromium and the ``page`` fixture).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from urllib.parse import parse_qsl, unquote_plus

import pytest
from playwright.sync_api import Page, expect

from tests.browser.stripe_card import CARD, CVC, DECLINED_CARD, THREE_DS_CARD, challenge, enter_card
from tests.support.capture import create_direct, expire, path_of
from tests.support.payments import (
    WEBHOOK_SECRET,
    created_intents,
    live_portal,
    load_payment,
    sandbox_settings,
    stripe_api,
    wait_for,
    webhook_worker,
)

pytestmark = pytest.mark.browser

CARD_FIELD = re.compile(r"cvc|cvv|cvc2|csc|security_?code|(card_?)?number|pan", re.I)


class RequestRecorder:
    """WSGI middleware keeping every request the portal receives, byte for byte."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.requests: list[dict] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        with self.lock:
            self.requests.append(
                {
                    "method": environ["REQUEST_METHOD"],
                    "path": environ.get("PATH_INFO", ""),
                    "query": environ.get("QUERY_STRING", ""),
                    "headers": headers,
                    "body": body,
                }
            )
        return self.app(environ, start_response)

    def seen(self) -> list[dict]:
        with self.lock:
            return list(self.requests)


def assert_no_card_data(recorded: list[dict]) -> None:
    """No request holds the card number (in any spacing or encoding) or the security code."""
    digits = CARD.replace(" ", "")
    for entry in recorded:
        raw = " ".join(
            [
                entry["path"],
                entry["query"],
                json.dumps(entry["headers"]),
                entry["body"].decode("latin-1"),
            ]
        )
        squeezed = re.sub(r"[\s\-+.]|%20|%2D", "", unquote_plus(raw))
        assert digits not in squeezed, entry["method"] + " " + entry["path"]
        fields = dict(parse_qsl(entry["query"]))
        if "json" in entry["headers"].get("Content-Type", ""):
            fields.update(_flatten(json.loads(entry["body"] or b"{}")))
        elif entry["body"]:
            fields.update(parse_qsl(entry["body"].decode("latin-1")))
        for key, value in fields.items():
            # Field names Stripe reports about checks (``cvc_check``) are fine; a field that
            # holds a security code or a card number is not.
            name = re.split(r"[.\[\]]+", key.strip("]"))[-1]
            assert not CARD_FIELD.fullmatch(name), key
            assert str(value) != CVC, key


def _flatten(value, prefix="") -> dict:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


class Shop:
    """The live portal, its request recorder and the sandbox, as one test's world."""

    def __init__(self, app, base_url: str, recorder: RequestRecorder, sandbox) -> None:
        self.app, self.base_url, self.recorder, self.sandbox = app, base_url, recorder, sandbox

    def new_request(self, agent_id: int, **spec) -> tuple[str, str]:
        public_id, url = create_direct(self.app, agent_id, **spec)
        return public_id, self.base_url + path_of(url)

    def intent(self, public_id: str) -> dict:
        intent_id = load_payment(self.app, public_id)[1].stripe_payment_intent_id
        return stripe_api(self.sandbox, "GET", f"/v1/payment_intents/{intent_id}")

    def confirm_calls(self) -> list[dict]:
        return [call for call in self.sandbox.requests("POST") if call["path"].endswith("/confirm")]


@pytest.fixture
def shop(app_factory, stripe_sandbox) -> Iterator[Shop]:
    app = app_factory(**sandbox_settings(stripe_sandbox, STRIPE_TIMEOUT_SECONDS=5))
    recorder = RequestRecorder(app.wsgi_app)
    app.wsgi_app = recorder
    with live_portal(app) as base_url, webhook_worker(app):
        stripe_sandbox.set_webhook(f"{base_url}/webhooks/stripe", WEBHOOK_SECRET)
        yield Shop(app, base_url, recorder, stripe_sandbox)
        stripe_sandbox.set_webhook(None)


def reach_payment_page(page: Page, link: str) -> None:
    """What the customer does: open the link, press Start, answer the question, check the
    summary and continue to the payment page."""
    page.goto(link)
    page.get_by_role("button", name="Start").click()
    page.get_by_label("What is the postcode of your address?").fill("SW1A 1AA")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, you are confirmed")).to_be_visible()
    page.get_by_role("link", name="Continue to payment").click()
    expect(page.get_by_role("heading", name="Pay £12.50 to Postern Demo Ltd")).to_be_visible()
    expect(pay_button(page)).to_be_enabled()


def pay_button(page: Page):
    return page.get_by_role("button", name="Pay £12.50")


def message(page: Page):
    return page.locator("#payment-message")


def expect_paid(page: Page) -> None:
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text("Visa ending")).to_be_visible()


@pytest.fixture
def agent_id(make_staff) -> int:
    return make_staff("agent").id


def test_card_payment_succeeds_and_no_card_data_reaches_the_portal(page, shop, agent_id):
    public_id, link = shop.new_request(agent_id)
    reach_payment_page(page, link)

    enter_card(page, CARD, CVC)
    pay_button(page).click()

    expect_paid(page)
    expect(page.get_by_text("Visa ending 4242")).to_be_visible()
    request, payment = load_payment(shop.app, public_id)
    assert (request.status, payment.status) == ("succeeded", "succeeded")
    assert len(created_intents(shop.sandbox)) == 1
    # The card went to the sandbox (it knows the last four digits)...
    methods = shop.sandbox.requests("POST", "/v1/payment_methods")
    assert methods and methods[-1]["params"]["card[number]"].endswith("4242")
    # ...and nowhere near the portal, whose every request was recorded.
    wait_for(lambda: shop.sandbox.sandbox.webhooks.pending() == 0)
    recorded = shop.recorder.seen()
    paths = {entry["path"] for entry in recorded}
    assert {path_of(link) + "/pay", path_of(link) + "/pay/status", "/webhooks/stripe"} <= paths
    assert_no_card_data(recorded)


def test_three_d_secure_completed(page, shop, agent_id):
    public_id, link = shop.new_request(agent_id)
    reach_payment_page(page, link)

    enter_card(page, THREE_DS_CARD)
    pay_button(page).click()
    challenge(page).get_by_role("button", name="Complete authentication").click()

    expect_paid(page)
    _, payment = load_payment(shop.app, public_id)
    assert payment.three_d_secure == "authenticated" and payment.card_last4 == "3184"
    assert_no_card_data(shop.recorder.seen())


def test_three_d_secure_failed_is_explained_and_can_be_retried(page, shop, agent_id):
    public_id, link = shop.new_request(agent_id)
    reach_payment_page(page, link)

    enter_card(page, THREE_DS_CARD)
    pay_button(page).click()
    challenge(page).get_by_role("button", name="Fail authentication").click()

    expect(message(page)).to_contain_text("security check was not completed")
    expect(message(page)).to_contain_text("No money has been taken")
    expect(pay_button(page)).to_be_enabled()
    # The failed check is recorded whichever way it arrives first (the page's status poll or the
    # webhook worker, which asks Stripe for the intent's state as it is by then: a worker that
    # is slow under load never sees requires_action, so the request's own status is not a
    # fixed point to wait for).
    wait_for(
        lambda: (
            (payment := load_payment(shop.app, public_id)[1]) is not None
            and (payment.failed_attempts, payment.three_d_secure) == (1, "failed")
        )
    )

    enter_card(page, CARD)
    pay_button(page).click()
    expect_paid(page)
    assert len(created_intents(shop.sandbox)) == 1


def test_a_decline_then_another_card_succeeds(page, shop, agent_id):
    public_id, link = shop.new_request(agent_id)
    reach_payment_page(page, link)

    enter_card(page, DECLINED_CARD)
    pay_button(page).click()
    expect(message(page)).to_contain_text("Your bank declined this payment")
    expect(pay_button(page)).to_be_enabled()

    enter_card(page, CARD)
    pay_button(page).click()

    expect_paid(page)
    _, payment = load_payment(shop.app, public_id)
    assert payment.failed_attempts == 1 and payment.status == "succeeded"
    assert len(created_intents(shop.sandbox)) == 1
    assert_no_card_data(shop.recorder.seen())


def test_a_double_click_confirms_once(page, shop, agent_id):
    _, link = shop.new_request(agent_id)
    reach_payment_page(page, link)

    enter_card(page, CARD)
    pay_button(page).dblclick()

    expect_paid(page)
    assert len(shop.confirm_calls()) == 1


def test_a_reload_in_the_middle_of_paying_keeps_one_intent(page, shop, agent_id):
    """Reloaded twice: after typing the card, then while the bank's check is open."""
    public_id, link = shop.new_request(agent_id)
    reach_payment_page(page, link)
    enter_card(page, THREE_DS_CARD)
    page.reload()
    expect(pay_button(page)).to_be_enabled()

    enter_card(page, THREE_DS_CARD)
    pay_button(page).click()
    expect(challenge(page).get_by_role("button", name="Complete authentication")).to_be_visible()
    page.reload()
    # The page knows the bank's check is still waiting and opens it again.
    challenge(page).get_by_role("button", name="Complete authentication").click()

    expect_paid(page)
    assert len(created_intents(shop.sandbox)) == 1
    assert shop.intent(public_id)["status"] == "succeeded"


def test_expiry_during_payment_stops_it_at_stripe(page, shop, agent_id):
    public_id, link = shop.new_request(agent_id)
    reach_payment_page(page, link)
    enter_card(page, CARD)
    expire(shop.app, public_id)

    pay_button(page).click()

    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    assert shop.intent(public_id)["status"] == "canceled"
    assert shop.confirm_calls() == []
    request, payment = load_payment(shop.app, public_id)
    assert (request.status, payment.status) == ("expired", "canceled")


@pytest.mark.parametrize(
    "entry",
    [
        {"query": "card=4242+4242+4242+4242", "body": b""},
        {"query": "", "body": b"n=4242-4242-4242-4242"},
        {"query": "", "body": b"x=4242%204242%204242%204242"},
        {"query": "", "body": b"card%5Bcvc%5D=999"},
        {"query": "", "body": b"note=123", "ctype": ""},
        {"query": "", "body": b'{"a": {"cvv": "1"}}', "ctype": "application/json"},
    ],
)
def test_the_recorder_check_catches_card_data(entry):
    """The check above is not vacuous: it finds the card data however it is dressed."""
    recorded = {
        "method": "POST",
        "path": "/anywhere",
        "query": entry["query"],
        "headers": {"Content-Type": entry.get("ctype", "application/x-www-form-urlencoded")},
        "body": entry["body"],
    }
    with pytest.raises(AssertionError):
        assert_no_card_data([recorded])


def test_a_journey_with_details_then_payment(page, shop, agent_id):
    """Kind "both": the customer gives the details asked for (an invalid attempt first, then a
    valid one), is told they arrived, goes on to the card form, pays, and the request is
    complete; no card data reaches the portal on the way."""
    public_id, link = shop.new_request(agent_id, kind="both", field_set="address")
    page.goto(link)
    page.get_by_role("button", name="Start").click()
    page.get_by_label("What is the postcode of your address?").fill("SW1A 1AA")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, you are confirmed")).to_be_visible()
    page.get_by_role("link", name="Continue").click()

    expect(page.get_by_role("heading", name="Your postal address")).to_be_visible()
    page.locator("#address_line1").fill("17 Quillfeather Mews")
    page.locator("#postcode").fill("not a postcode")
    page.get_by_role("button", name="Send my details").click()
    expect(page.locator(".error-summary")).to_be_visible()
    page.locator("#town").fill("Wexcombe Parva")
    page.locator("#postcode").fill("ZE2 9QX")
    page.get_by_role("button", name="Send my details").click()

    expect(page.get_by_role("heading", name="Details received")).to_be_visible()
    page.get_by_role("link", name="Continue to payment").click()
    expect(page.get_by_text("Step 2 of 2: payment")).to_be_visible()
    expect(page.get_by_role("heading", name="Pay £12.50 to Postern Demo Ltd")).to_be_visible()
    expect(pay_button(page)).to_be_enabled()
    enter_card(page, CARD)
    pay_button(page).click()
    expect_paid(page)

    wait_for(lambda: load_payment(shop.app, public_id)[0].status == "succeeded")
    assert shop.intent(public_id)["status"] == "succeeded"
    assert_no_card_data(shop.recorder.seen())
