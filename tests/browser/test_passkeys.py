"""Passkeys in Chromium, with the browser's own virtual authenticator (the DevTools WebAuthn
domain through a Playwright CDP session): a platform authenticator with resident keys and
user verification, exactly what a laptop's fingerprint reader or a phone offers.

Register from the account page, finish signing in with it as the second factor, sign in with
it alone where POSTERN_PASSKEY_SIGN_IN allows, see a cloned authenticator refused, remove it.

WebAuthn needs a secure context and a domain as its RP ID (never an IP address): the pages are
opened on http://localhost:<port>, which Chromium treats as secure, and PUBLIC_BASE_URL names
that same origin, so the server's RP ID ("localhost") and expected origin match the browser's.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import AxeAudit
from tests.support.auth import audit_rows
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.virtual_authenticator import VirtualAuthenticator

pytestmark = pytest.mark.browser


@pytest.fixture
def base(live_server) -> str:
    """The live server as http://localhost:<port>, and the app told it is its public URL."""
    port = urlsplit(live_server.url).port
    url = f"http://localhost:{port}"
    live_server.app.config["PUBLIC_BASE_URL"] = url
    return url


def _password_step(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def _sign_in_with_code(page: Page, base: str, user) -> None:
    _password_step(page, base, user.username)
    expect(page).to_have_url(base + "/login/mfa")
    page.get_by_label("Code").fill(pyotp.TOTP(user.totp_secret).now())
    page.get_by_role("button", name="Continue").click()


def _add_passkey(page: Page, base: str, name: str) -> None:
    page.goto(base + "/account")
    page.get_by_label("Name it").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_contain_text(f"Passkey “{name}” added.")


def _sign_out(page: Page, base: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(base + "/login")


def test_register_a_passkey_use_it_as_the_second_factor_then_remove_it(
    live_server, base, page, make_staff
):
    user = make_staff("backoffice", mfa=True)
    authenticator = VirtualAuthenticator(page)
    _sign_in_with_code(page, base, user)
    expect(page).to_have_url(base + "/backoffice/")

    _add_passkey(page, base, "Work laptop")
    listed = page.get_by_test_id("passkey")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Work laptop")
    expect(listed.locator("dd").last).to_have_text("Never")  # last used
    axe = AxeAudit()
    axe.check(page, "account page")
    (credential,) = authenticator.credentials()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"

    _sign_out(page, base)
    _password_step(page, base, user.username)
    expect(page).to_have_url(base + "/login/mfa")
    expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
    axe.check(page, "second factor with a passkey")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(base + "/backoffice/")
    assert audit_rows(live_server.app, "auth.login")[-1].details == {"factors": "password+passkey"}

    page.goto(base + "/account")
    expect(page.get_by_test_id("passkey").locator("dd").last).not_to_have_text("Never")
    page.get_by_role("link", name="Remove Work laptop").click()
    expect(page.get_by_role("heading", name="Remove the passkey “Work laptop”")).to_be_visible()
    axe.check(page, "remove a passkey")
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    # The sign-in spent this step's code: the next one (accepted for clock drift) confirms.
    totp = pyotp.TOTP(user.totp_secret)
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + totp.interval))
    page.get_by_role("button", name="Remove the passkey").click()
    expect(page.get_by_role("status")).to_contain_text("Passkey “Work laptop” removed.")
    expect(page.get_by_test_id("passkey")).to_have_count(0)
    axe.assert_clean()
    actions = [row.action for row in audit_rows(live_server.app)]
    assert [action for action in actions if action.startswith("auth.passkey_")] == [
        "auth.passkey_registered",
        "auth.passkey_used",
        "auth.passkey_removed",
    ]
    assert "auth.reauthenticated" in actions


def test_passwordless_sign_in_when_the_setting_is_on(live_server, base, page, make_staff):
    live_server.app.config["PASSKEY_SIGN_IN"] = True
    user = make_staff("supervisor", mfa=True)
    VirtualAuthenticator(page)
    _sign_in_with_code(page, base, user)
    _add_passkey(page, base, "Desk computer")
    _sign_out(page, base)

    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(base + "/agent/")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(user.username)
    assert audit_rows(live_server.app, "auth.login")[-1].details == {"factors": "passkey"}


def test_without_the_setting_the_sign_in_page_offers_no_passkey(live_server, base, page):
    page.goto(base + "/login")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_have_count(0)


def test_a_cloned_passkey_whose_counter_went_back_is_refused(live_server, base, page, make_staff):
    user = make_staff("backoffice", mfa=True)
    authenticator = VirtualAuthenticator(page)
    _sign_in_with_code(page, base, user)
    _add_passkey(page, base, "Work laptop")
    _sign_out(page, base)
    _password_step(page, base, user.username)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(base + "/backoffice/")
    _sign_out(page, base)

    authenticator.wind_counter_back(0)
    _password_step(page, base, user.username)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("it may have been copied")
    expect(page).to_have_url(base + "/login/mfa")
    refused = audit_rows(live_server.app, "auth.passkey_refused")
    assert [row.details for row in refused] == [{"reason": "counter_went_backwards"}]


def test_a_passkey_over_https_on_the_production_like_stack(prodlike, browser, browser_problems):
    """Proves: with production settings behind nginx's TLS (https://localhost, CSRF's strict
    Referer check, the production CSP), a passkey is registered and then finishes a sign-in as
    the second factor."""
    username = f"passkey.{urlsplit(prodlike.url).port}"
    secret = prodlike.add_staff("backoffice", username, DEFAULT_PASSWORD)
    context = browser.new_context()
    page = browser_problems.watch(context.new_page())
    try:
        VirtualAuthenticator(page)
        user = type("Account", (), {"username": username, "totp_secret": secret})
        _sign_in_with_code(page, prodlike.url, user)
        expect(page).to_have_url(prodlike.url + "/backoffice/")
        _add_passkey(page, prodlike.url, "Office laptop")
        _sign_out(page, prodlike.url)
        _password_step(page, prodlike.url, username)
        page.get_by_role("button", name="Use a passkey").click()
        expect(page).to_have_url(prodlike.url + "/backoffice/")
        expect(page.get_by_role("navigation", name="Main")).to_contain_text(username)
    finally:
        context.close()
