"""How fast a customer's action reaches the agent's screen, as deployed (tests/prodlike: nginx,
gunicorn, the push service, PostgreSQL), with the panel pushed and with it polled.

The clock starts just before the customer's browser asks for the link (the request that moves
it to "Link opened") and stops when the agent's panel label reads so, as seen by a
MutationObserver in the agent's page: the whole path, trigger, LISTEN, stream, nginx and the
console's script included. Both clocks are this machine's. Each figure is printed.

- pushed: under 1 s;
- push switched off by its setting (a stack of its own with POSTERN_LIVE_PUSH_ENABLED=false),
  or its service down (the stream fails; the console falls back to polling): under 2.5 s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
import requests
from playwright.sync_api import Page, expect

from tests.prodlike.stack import Stack, start_stack
from tests.support.loopback import wait_until
from tests.support.staff import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.prodlike]

PUSHED_BOUND_MS = 1000
POLLED_BOUND_MS = 2500
AGENT_SCREEN = {"width": 1366, "height": 768}

#: Records when the panel's label first reads ``text`` (window.__changedAt, epoch ms).
_WATCH_LABEL = """([selector, text]) => {
  window.__changedAt = null;
  const label = document.querySelector(selector);
  const seen = () => {
    if (window.__changedAt === null && label.textContent.includes(text)) {
      window.__changedAt = Date.now();
    }
  };
  new MutationObserver(seen).observe(label, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def stack_without_push(prodlike_certificates) -> Iterator[Stack]:
    """The deployed shape with push switched off by its setting (one app instance)."""
    stack = start_stack(
        name="no-push",
        certificates=prodlike_certificates,
        extra_env={"POSTERN_LIVE_PUSH_ENABLED": "false"},
        instances=1,
    )
    yield stack
    stack.stop()


def sign_in(page: Page, base: str, username: str, secret: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("code", re.IGNORECASE)).first.fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=re.compile("Verify|Continue|Sign in")).click()
    expect(page.get_by_role("heading", name="Agent console")).to_be_visible()


def agent_with_a_request(browser, stack: Stack, username: str) -> tuple[Page, str, str]:
    """A signed-in agent's console showing a new copy-link request: (page, link, public id)."""
    secret = stack.add_staff("agent", username, DEFAULT_PASSWORD)
    page = browser.new_context(viewport=AGENT_SCREEN).new_page()
    page.set_default_timeout(15_000)
    sign_in(page, stack.url, username, secret)
    page.get_by_label("Amount").fill("12.50")
    page.get_by_label("What the payment is for").fill("Gas bill for March")
    page.get_by_label("Your reference").fill("ACC-3001")
    page.get_by_label("Identity check").select_option("postcode")
    page.get_by_label("Expected answer").fill("SW1A 1AA")
    page.get_by_label("Copy link / QR code").check()
    page.get_by_role("button", name="Create and send").click()
    link = page.locator("#issued-link-url").input_value()
    public_id = page.locator("[data-request]").first.get_attribute("data-request")
    return page, link, public_id


def customer_opens_link_ms(browser, agent: Page, link: str, public_id: str) -> float:
    """Milliseconds from the customer asking for ``link`` to the agent's panel saying so."""
    selector = f'[data-request="{public_id}"] .js-label'
    expect(agent.locator(selector)).to_have_text("Link ready to give")
    agent.evaluate(_WATCH_LABEL, [selector, "Link opened"])
    customer = browser.new_context().new_page()
    began = time.time() * 1000
    customer.goto(link)
    agent.wait_for_function("() => window.__changedAt !== null", timeout=15_000)
    took = agent.evaluate("window.__changedAt") - began
    customer.context.close()
    return took


def test_a_pushed_customer_action_shows_on_the_agents_screen_within_a_second(browser, prodlike):
    agent, link, public_id = agent_with_a_request(browser, prodlike, "agent.push")
    expect(agent.locator("[data-live]")).to_have_attribute("data-live", "push")
    took = customer_opens_link_ms(browser, agent, link, public_id)
    print(f"\npushed: customer action -> agent's screen {took:.0f} ms")
    assert took < PUSHED_BOUND_MS
    expect(agent.locator("[data-live]")).to_have_attribute("data-live", "push")
    agent.context.close()


def test_with_push_switched_off_polling_shows_it_within_two_and_a_half_seconds(
    browser, stack_without_push
):
    agent, link, public_id = agent_with_a_request(browser, stack_without_push, "agent.nopush")
    assert agent.locator("[data-stream-url]").count() == 0, "the page still offers the stream"
    took = customer_opens_link_ms(browser, agent, link, public_id)
    print(f"\npush off: customer action -> agent's screen {took:.0f} ms")
    assert took < POLLED_BOUND_MS
    expect(agent.locator("[data-live]")).to_have_attribute("data-live", "poll")
    agent.context.close()


def test_when_the_push_service_goes_down_the_console_falls_back_to_polling(browser, prodlike):
    agent, link, public_id = agent_with_a_request(browser, prodlike, "agent.pushdown")
    expect(agent.locator("[data-live]")).to_have_attribute("data-live", "push")
    prodlike.services["gunicorn-push"].stop()
    try:
        expect(agent.locator("[data-live]")).to_have_attribute("data-live", "poll")
        took = customer_opens_link_ms(browser, agent, link, public_id)
        print(f"\npush service down: customer action -> agent's screen {took:.0f} ms")
        assert took < POLLED_BOUND_MS
        assert not agent.locator("#live-status-problem").is_visible()
    finally:
        prodlike.start_push(prodlike.push_address)
        wait_ready(prodlike)
    agent.context.close()


def wait_ready(stack: Stack) -> None:
    session = requests.Session()
    session.trust_env = False  # loopback: no proxy setting may send it elsewhere

    def answers() -> bool:
        try:
            return session.get(f"http://{stack.push_address}/readyz", timeout=2).ok
        except requests.RequestException:  # not listening yet
            return False

    wait_until(answers, 30, "the push service to answer again")
