"""An administrator resets a colleague's password in Chromium, and the colleague signs in with
the temporary password: second factor first, then a new password before anything else."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import current_totp

pytestmark = pytest.mark.browser

NEW_PASSWORD = "quiet harbour lantern 7 umbrella"


def sign_in(page: Page, base: str, user, password: str, *, offset_steps: int = 0) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.get_by_label("Code").fill(current_totp(user, offset_steps=offset_steps))
    page.get_by_role("button", name="Continue").click()


def test_an_admin_resets_a_password_and_the_colleague_must_choose_a_new_one(
    live_server, page, browser, browser_problems, make_staff
):
    admin = make_staff("admin", mfa=True)
    colleague = make_staff("backoffice", mfa=True)
    base = live_server.url

    sign_in(page, base, admin, DEFAULT_PASSWORD)
    page.goto(f"{base}/backoffice/staff/{colleague.id}")
    expect(page.get_by_role("heading", name="Reset the password")).to_be_visible()
    page.get_by_role("button", name="Reset the password").click()

    # Asked to confirm it is them first; then back on the account's page to press it again.
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(current_totp(admin, offset_steps=1))
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{base}/backoffice/staff/{colleague.id}")
    page.get_by_role("button", name="Reset the password").click()

    expect(page.get_by_role("heading", name="Password reset for")).to_be_visible()
    temporary = page.locator("#temporary-password code").inner_text()
    assert len(temporary) == 19 and temporary.count("-") == 3
    expect(page.get_by_text("It is shown only now")).to_be_visible()
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_text("Temporary: they choose their own")).to_be_visible()

    # The colleague, in a browser of their own.
    context = browser.new_context()
    theirs = browser_problems.watch(context.new_page())
    try:
        sign_in(theirs, base, colleague, temporary)
        expect(theirs).to_have_url(base + "/account/password")
        expect(theirs.get_by_role("heading", name="Choose a new password")).to_be_visible()
        expect(theirs.get_by_text("An administrator reset your password")).to_be_visible()

        theirs.goto(base + "/backoffice/")  # nothing else opens yet
        expect(theirs).to_have_url(base + "/account/password")

        for new in (DEFAULT_PASSWORD, NEW_PASSWORD):
            theirs.get_by_label("Current password", exact=True).fill(temporary)
            theirs.get_by_label("New password", exact=True).fill(new)
            theirs.get_by_label("Repeat the new password").fill(new)
            theirs.get_by_role("button", name="Change password").click()
            if new == DEFAULT_PASSWORD:
                expect(theirs.get_by_role("alert")).to_contain_text(
                    "You have used this password recently"
                )

        expect(theirs).to_have_url(base + "/backoffice/")
        expect(theirs.get_by_text("Your new password is set")).to_be_visible()
    finally:
        context.close()
