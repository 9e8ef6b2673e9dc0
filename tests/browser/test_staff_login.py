"""Staff sign-in through the real pages in Chromium: password, second factor, enrolment."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.support.chromium import BrowserProblems
from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def _password_step(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_back_office_staff_sign_in_with_their_authenticator_and_sign_out(
    live_server, page, make_staff
):
    user = make_staff("backoffice", mfa=True)
    base = live_server.url

    _password_step(page, base, user.username)
    expect(page).to_have_url(base + "/login/mfa")
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.get_by_label("Code").fill(pyotp.TOTP(user.totp_secret).now())
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(base + "/backoffice/")
    expect(page.get_by_role("heading", name="Back office")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(user.username)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(base + "/login")
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto(base + "/backoffice/")
    expect(page).to_have_url(re.compile(re.escape(base) + r"/login\?next=/backoffice/$"))


def test_a_wrong_password_shows_the_error_summary(live_server, page, make_staff):
    user = make_staff("agent")
    page.goto(live_server.url + "/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The username or password is not right.")
    expect(page.get_by_label("Password")).to_have_value("")


def test_an_admin_without_mfa_enrols_before_reaching_anything(live_server, page, make_staff):
    user = make_staff("admin", mfa=False)
    base = live_server.url

    _password_step(page, base, user.username)
    expect(page).to_have_url(base + "/account/mfa/setup")
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    expect(qr).to_have_js_property("complete", True)
    assert qr.evaluate("image => image.naturalWidth") > 0, "the QR code image did not render"

    # Nothing else is reachable yet.
    page.goto(base + "/backoffice/")
    expect(page).to_have_url(base + "/account/mfa/setup")

    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step verification").click()

    expect(page.get_by_role("heading", name="Two-step verification is on")).to_be_visible()
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    assert all(re.fullmatch(r"[a-z0-9]{5}-[a-z0-9]{5}", text) for text in codes.all_inner_texts())

    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(base + "/backoffice/")
    expect(page.get_by_role("heading", name="Back office")).to_be_visible()


def test_the_problem_watcher_catches_a_csp_violation(app, live_server, browser):
    """The guard the ``page`` fixture relies on really sees what the CSP blocks."""

    @app.get("/test-only/inline-script")
    def inline_script():
        return "<!doctype html><title>x</title><p>hi</p><script>document.title='ran'</script>"

    watcher = BrowserProblems()
    context = browser.new_context()
    try:
        test_page = watcher.watch(context.new_page())
        test_page.goto(live_server.url + "/test-only/inline-script")
        expect(test_page).to_have_title("x")  # the inline script did not run
        problems = watcher.collect()
        blocked = [p for p in problems if "inline script" in p and "Content Security Policy" in p]
        assert blocked, problems
    finally:
        context.close()
