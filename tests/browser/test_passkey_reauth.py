"""A refund in Chromium by a back-office account whose only second factor is a passkey: asked to
confirm it is them, they type their password and use the passkey (Chromium's virtual
authenticator, the DevTools WebAuthn domain), come back to the refund form filled in as sent,
and the refund goes to the Stripe sandbox once.

As in tests/browser/test_passkeys.py, pages are opened on http://localhost:<port> (a secure
context with a domain for RP ID) and PUBLIC_BASE_URL names that origin."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.axe import AxeAudit
from tests.support.artifacts import ARTIFACTS
from tests.support.auth import audit_rows, update_staff
from tests.support.backoffice_write import paid_request, refund_calls, refunds_in_db
from tests.support.payments import sandbox_settings
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.virtual_authenticator import VirtualAuthenticator

pytestmark = pytest.mark.browser


@pytest.fixture
def app(app_factory, stripe_sandbox):
    """The live server's app, talking to the session's Stripe sandbox."""
    return app_factory(**sandbox_settings(stripe_sandbox))


@pytest.fixture
def base(live_server) -> str:
    port = urlsplit(live_server.url).port
    url = f"http://localhost:{port}"
    live_server.app.config["PUBLIC_BASE_URL"] = url
    return url


def _shots(page, name: str) -> None:
    """The page as a phone and a laptop show it, for a person to look at."""
    folder = ARTIFACTS / "backoffice"
    folder.mkdir(parents=True, exist_ok=True)
    for width, height in ((390, 844), (1366, 768)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 768})


def _sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_a_passkey_only_officer_refunds_after_password_and_passkey(
    live_server, base, page, app, stripe_sandbox, make_staff
):
    public_id = paid_request(app, stripe_sandbox, make_staff("agent").id)
    officer = make_staff("agent")
    authenticator = VirtualAuthenticator(page)

    # The passkey is made while the account is an agent's (no second factor needed), then the
    # account becomes a back-office one: the passkey is its only second factor.
    _sign_in(page, base, officer.username)
    page.goto(base + "/account")
    page.get_by_label("Name it").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_contain_text("Passkey “Work laptop” added.")
    update_staff(app, officer.id, role="backoffice")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(base + "/login")
    _sign_in(page, base, officer.username)
    expect(page).to_have_url(base + "/login/mfa")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(base + "/backoffice/")

    page.goto(f"{base}/backoffice/refunds/new/{public_id}")
    expect(page.get_by_text("asked for your password and a passkey")).to_be_visible()
    page.get_by_label("Part of it").check()
    page.get_by_label("Amount to refund").fill("5.00")
    page.get_by_label("Reason").select_option("wrong_amount")
    page.get_by_label("Note for the audit trail").fill("Customer was charged for two months")
    page.get_by_role("button", name="Refund").click()

    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm with a passkey")).to_be_visible()
    expect(page.get_by_label("Code from your authenticator app")).to_have_count(0)
    expect(page.get_by_text("has no authenticator app or passkey")).to_have_count(0)
    _shots(page, "reauth-password-and-passkey")
    axe = AxeAudit()
    axe.check(page, "confirm it's you with a password and a passkey")
    assert refunds_in_db(app) == [] and refund_calls(stripe_sandbox) == []

    # Without the password, the passkey is not even asked for.
    page.get_by_role("button", name="Confirm with a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter your password.")
    axe.check(page, "confirm it's you, password missing")
    axe.assert_clean()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Confirm with a passkey").click()

    expect(page).to_have_url(f"{base}/backoffice/refunds/new/{public_id}")
    expect(page.get_by_role("status")).to_contain_text("What you entered is filled in again")
    expect(page.get_by_label("Amount to refund")).to_have_value("5.00")
    expect(page.get_by_label("Note for the audit trail")).to_have_value(
        "Customer was charged for two months"
    )
    assert audit_rows(app, "auth.reauthenticated")[-1].details["factor"] == "password+passkey"
    page.get_by_role("button", name="Refund").click()

    expect(page.get_by_test_id("refund-status")).to_have_text("Refunded")
    [refund] = refunds_in_db(app, public_id)
    assert (refund.amount_minor, refund.status) == (500, "succeeded")
    assert len(refund_calls(stripe_sandbox)) == 1
    (credential,) = authenticator.credentials()
    assert credential["signCount"] >= 2  # used at sign-in, then to confirm
