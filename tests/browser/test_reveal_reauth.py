"""Revealing a customer's personal data in Chromium: the value stays hidden until the officer
confirms it is them (password and a fresh code), then one field is shown, once, and audited."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.backoffice_write import ADDRESS, audit_rows, data_request
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import current_totp

pytestmark = pytest.mark.browser


def ask_to_reveal_the_town(page) -> None:
    page.get_by_label("Field to reveal").select_option(label="Town or city")
    page.get_by_label("Why do you need to see it?").fill("Customer asked us to confirm it")
    page.get_by_role("button", name="Reveal").click()


def test_a_reveal_asks_for_reauthentication_then_shows_one_value(
    live_server, page, app, make_staff
):
    public_id = data_request(app, make_staff("agent").id)
    officer = make_staff("backoffice")  # enrolled in TOTP, as the role requires
    base = live_server.url
    data_page = f"{base}/backoffice/requests/{public_id}/data"

    page.goto(base + "/login")
    page.get_by_label("Username").fill(officer.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(current_totp(officer))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(base + "/backoffice/")

    page.goto(data_page)
    expect(
        page.get_by_role("heading", name=f"Personal data for request {public_id}")
    ).to_be_visible()
    expect(page.get_by_text("You will be asked for your password and a code.")).to_be_visible()
    ask_to_reveal_the_town(page)

    # Refused without a recent re-authentication: sent to confirm it's you, nothing shown.
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("confirm it is you")
    expect(page.get_by_text("showing or exporting a customer's personal data")).to_be_visible()
    expect(page.get_by_text(ADDRESS["town"])).to_have_count(0)
    assert audit_rows(app, "data.revealed") == []
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    # The sign-in just used this 30-second step's code; a code works once, so take the next.
    page.get_by_label("Code from your authenticator app").fill(
        current_totp(officer, offset_steps=1)
    )
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(data_page)
    expect(page.get_by_text("You will be asked for your password and a code.")).to_have_count(0)
    ask_to_reveal_the_town(page)

    expect(page.get_by_test_id("revealed-value")).to_have_text(ADDRESS["town"])
    expect(page.get_by_text(ADDRESS["postcode"])).to_have_count(0)
    [revealed] = audit_rows(app, "data.revealed")
    assert revealed.actor_id == officer.id and revealed.details["fields"] == ["town"]
    # Shown once: the page, loaded again, is masked.
    page.goto(data_page)
    expect(page.get_by_text(ADDRESS["town"])).to_have_count(0)
