"""A refund in Chromium by a back-office officer who signs in through the identity provider and
has no Postern password: the refund waits until they confirm it is them AT THE PROVIDER (its
login page again, ``prompt=login``), then the form comes back filled in and refunds once. And
a reveal by an officer whose provider proves no second factor: the provider, then the code.

The provider is the real one (tests/oidc, panva's oidc-provider); the refusals (a stale
``auth_time``, someone else, a group removed) are tests/functional/test_single_sign_on_reauth.py.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import AxeAudit
from tests.support.artifacts import ARTIFACTS
from tests.support.backoffice_write import (
    ADDRESS,
    audit_rows,
    data_request,
    paid_request,
    refund_calls,
    refunds_in_db,
)
from tests.support.openid_provider import running_provider
from tests.support.payments import sandbox_settings
from tests.support.web import current_totp

pytestmark = pytest.mark.browser

PROVIDER = "testidp"


@pytest.fixture
def idp(tmp_path):
    with running_provider(tmp_path / "idp") as provider:
        provider.set_users(
            {
                "alice": {
                    "sub": "a1b2c3-alice",
                    "password": "alice-idp-password",
                    "email": "alice@example.test",
                    "name": "Alice Example",
                    "groups": ["postern-backoffice"],
                    "amr": ["pwd", "mfa"],
                }
            }
        )
        yield provider


@pytest.fixture
def app(app_factory, stripe_sandbox, idp):
    return app_factory(
        SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)], **sandbox_settings(stripe_sandbox)
    )


def _sign_in_at_provider(page: Page) -> None:
    expect(page.get_by_role("heading", name="Sign in to the identity provider")).to_be_visible()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-idp-password")
    page.get_by_role("button", name="Sign in").click()


def _screenshot(page: Page, name: str) -> None:
    folder = ARTIFACTS / "single-sign-on"
    folder.mkdir(parents=True, exist_ok=True)
    for width, height in ((390, 844), (1366, 768)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)


def test_an_sso_officer_refunds_after_confirming_at_the_provider(
    live_server, page, app, idp, stripe_sandbox, make_staff
):
    idp.register_portal(live_server.url, PROVIDER)
    public_id = paid_request(app, stripe_sandbox, make_staff("agent").id)
    base = live_server.url
    refund_page = f"{base}/backoffice/refunds/new/{public_id}"

    page.goto(base + "/login")
    page.get_by_role("button", name="Sign in with Test ID").click()
    _sign_in_at_provider(page)
    expect(page).to_have_url(base + "/backoffice/")

    page.goto(refund_page)
    page.get_by_label("Part of it").check()
    page.get_by_label("Amount to refund").fill("5.00")
    page.get_by_label("Reason").select_option("wrong_amount")
    page.get_by_label("Note for the audit trail").fill("Customer was charged for two months")
    page.get_by_role("button", name="Refund").click()

    # No Postern password to ask for: the provider is asked instead.
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(page.get_by_label("Password")).to_have_count(0)
    assert refunds_in_db(app) == [] and refund_calls(stripe_sandbox) == []
    _screenshot(page, "reauth-through-the-provider")
    axe = AxeAudit()
    axe.check(page, "re-authentication through the provider")
    axe.assert_clean()
    page.get_by_role("button", name="Confirm with your organisation's account").click()

    # The provider asks again although its session is still open (prompt=login).
    _sign_in_at_provider(page)

    expect(page).to_have_url(refund_page)
    expect(page.get_by_role("status")).to_contain_text("What you entered is filled in again")
    expect(page.get_by_label("Amount to refund")).to_have_value("5.00")
    expect(page.get_by_label("Note for the audit trail")).to_have_value(
        "Customer was charged for two months"
    )
    page.get_by_role("button", name="Refund").click()

    expect(page.get_by_test_id("refund-status")).to_have_text("Refunded")
    [refund] = refunds_in_db(app, public_id)
    assert refund.amount_minor == 500
    assert len(refund_calls(stripe_sandbox)) == 1
    [confirmed] = audit_rows(app, "auth.reauthenticated")
    assert confirmed.details["factor"] == f"sso:{PROVIDER}+provider_mfa"


def test_without_mfa_from_the_provider_an_officer_reveals_after_the_provider_and_a_code(
    live_server, page, app, idp, make_staff
):
    """An existing officer with an authenticator app, linked by email; the provider proves no
    second factor, so after it Postern asks for the app's code, then the value is shown."""
    idp.register_portal(live_server.url, PROVIDER)
    idp.update_user("alice", amr=["pwd"])
    officer = make_staff("backoffice", username="alice.o", mfa=True)
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        db.session.get(StaffUser, officer.id).email = "alice@example.test"
        db.session.commit()
    public_id = data_request(app, make_staff("agent").id)
    base = live_server.url
    data_page = f"{base}/backoffice/requests/{public_id}/data"

    page.goto(base + "/login")
    page.get_by_role("button", name="Sign in with Test ID").click()
    _sign_in_at_provider(page)
    page.get_by_label("Code").fill(current_totp(officer))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(base + "/backoffice/")

    page.goto(data_page)
    _ask_to_reveal_the_town(page)
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.get_by_role("button", name="Confirm with your organisation's account").click()
    _sign_in_at_provider(page)

    expect(page).to_have_url(f"{base}/backoffice/reauth/sso/code")
    _screenshot(page, "reauth-code-after-the-provider")
    axe = AxeAudit()
    axe.check(page, "the code after the provider")
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    axe.check(page, "the code after the provider, wrong")
    axe.assert_clean()
    page.get_by_label("Code from your authenticator app").fill(
        current_totp(officer, offset_steps=1)
    )
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(data_page)
    _ask_to_reveal_the_town(page)
    expect(page.get_by_test_id("revealed-value")).to_have_text(ADDRESS["town"])
    [confirmed] = audit_rows(app, "auth.reauthenticated")
    assert confirmed.details["factor"] == f"sso:{PROVIDER}+totp"


def _ask_to_reveal_the_town(page: Page) -> None:
    page.get_by_label("Field to reveal").select_option(label="Town or city")
    page.get_by_label("Why do you need to see it?").fill("Customer asked us to confirm it")
    page.get_by_role("button", name="Reveal").click()
