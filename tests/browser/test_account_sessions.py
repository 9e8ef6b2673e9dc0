"""Sessions in Chromium: the account page lists where the person is signed in, and "Sign out
everywhere else" stops another browser's agent console on its next poll; its next page is the
sign-in page, which says why."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def _sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(base + "/agent/")


def test_sign_out_everywhere_else_stops_the_other_browsers_console(
    live_server, browser, browser_problems, make_staff
):
    base = live_server.url
    user = make_staff("agent")
    phone_context = browser.new_context(user_agent=PHONE, viewport={"width": 390, "height": 844})
    laptop_context = browser.new_context()
    try:
        phone = browser_problems.watch(phone_context.new_page())
        laptop = browser_problems.watch(laptop_context.new_page())
        _sign_in(phone, base, user.username)
        _sign_in(laptop, base, user.username)

        laptop.goto(base + "/account")
        sessions = laptop.get_by_test_id("session")
        expect(sessions).to_have_count(2)
        expect(sessions.filter(has_text="This device")).to_have_count(1)
        expect(sessions.filter(has_text="Mobile Safari on iOS")).to_contain_text("127.0.0.0/24")
        laptop.get_by_role("button", name="Sign out everywhere else").click()
        expect(laptop.get_by_role("status")).to_contain_text("Signed out of 1 other session.")
        expect(laptop.get_by_test_id("session")).to_have_count(1)

        # The phone's console finds out on its next poll (401) and says so.
        expect(phone.get_by_text("Your session has ended")).to_be_visible()
        phone.reload()
        expect(phone).to_have_url(base + "/login?next=/agent/")
        expect(phone.get_by_role("status")).to_have_text(
            "You signed out of this device from another one. Sign in again."
        )
    finally:
        phone_context.close()
        laptop_context.close()
