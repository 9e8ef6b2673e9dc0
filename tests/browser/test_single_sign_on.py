"""Single sign-on in Chromium against a real OpenID Provider (panva's oidc-provider, started
per test on a loopback port: tests/support/openid_provider.py).

Each test signs in through the provider's own login page, as a person would; the attacks
(a forged ``state``, a replayed code, a wrong ``nonce``) are made by changing one value in the
real exchange, never by mocking a side of it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.axe import AxeAudit
from tests.support.openid_provider import running_provider

pytestmark = pytest.mark.browser

PROVIDER = "testidp"
FAILED = "Signing in with your organisation's account did not work. Please try again."


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
                    "groups": ["postern-backoffice", "everyone"],
                    "amr": ["pwd", "mfa"],
                },
                "bob": {
                    "sub": "d4e5f6-bob",
                    "password": "bob-idp-password",
                    "email": "bob@example.test",
                    "name": "Bob Example",
                    "groups": ["postern-supervisors"],
                    "amr": ["pwd", "hwk"],
                },
            }
        )
        yield provider


@pytest.fixture
def app(app_factory, idp):
    built = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])
    built.wsgi_app = Holder(built.wsgi_app)
    return built


@pytest.fixture
def holder(app) -> Holder:
    return app.wsgi_app


@pytest.fixture
def sso(idp, live_server):
    idp.register_portal(live_server.url, PROVIDER)
    return idp


def _sign_in_at_provider(page: Page, username: str, password: str) -> None:
    expect(page.get_by_role("heading", name="Sign in to the identity provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _start(page: Page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_role("button", name="Sign in with Test ID").click()


def _sign_in(page: Page, base: str, username: str, password: str) -> None:
    _start(page, base)
    _sign_in_at_provider(page, username, password)


def audit_rows(app) -> list:
    """Every audit row so far, oldest first (plain copies: action, details, actor_label)."""
    from types import SimpleNamespace

    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
        return [
            SimpleNamespace(action=row.action, details=row.details, actor_label=row.actor_label)
            for row in rows
        ]


def _user(app, username):
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        user = db.session.execute(
            select(StaffUser).where(StaffUser.username == username)
        ).scalar_one()
        return {"id": user.id, "role": user.role, "team": user.team.name if user.team else None}


class Holder:
    """WSGI middleware around the live portal: stops the browser at the next request to one
    of Postern's single sign-on pages and keeps what it carried, so a test can change one
    value and send it on. The callback is held before Postern sees it (its code unused); the
    start page runs, and its redirect to the provider is kept instead of followed (its
    cookie, holding the state, PKCE verifier and nonce, still reaches the browser)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.path: str | None = None
        self.held: list[str] = []

    def hold_next(self, page: str) -> list[str]:
        self.path = f"/sso/{PROVIDER}/{page}"
        return self.held

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.path:
            return self.wsgi_app(environ, start_response)
        self.path = None
        if environ["PATH_INFO"].endswith("/callback"):
            self.held.append(environ["PATH_INFO"] + "?" + environ.get("QUERY_STRING", ""))
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"held by the test"]
        answer: dict = {}

        def keep(status, headers, exc_info=None):
            answer["headers"] = headers
            return lambda data: None

        result = self.wsgi_app(environ, keep)
        try:
            for _chunk in result:  # the body is not wanted, only the headers
                pass
        finally:
            if hasattr(result, "close"):
                result.close()
        headers = answer["headers"]
        self.held.extend(value for name, value in headers if name.lower() == "location")
        cookies = [(name, value) for name, value in headers if name.lower() == "set-cookie"]
        start_response("200 OK", [("Content-Type", "text/plain"), *cookies])
        return [b"held by the test"]


def _with_param(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = {key: value[0] for key, value in parse_qs(parts.query).items()}
    query.update(values)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_a_person_signs_in_through_the_provider_and_lands_with_the_mapped_role(
    sso, live_server, page
):
    base = live_server.url
    _sign_in(page, base, "alice", "alice-idp-password")

    # Back office by the mapping; the provider's amr said "mfa", so no local second factor.
    expect(page).to_have_url(base + "/backoffice/")
    expect(page.get_by_role("heading", name="Back office")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Alice Example")
    assert _user(live_server.app, "alice")["role"] == "backoffice"
    actions = [row.action for row in audit_rows(live_server.app)]
    assert {"staff.created", "sso.identity_linked", "sso.sign_in", "auth.login"} <= set(actions)
    login = next(row for row in audit_rows(live_server.app) if row.action == "auth.login")
    assert login.details == {"factors": f"sso:{PROVIDER}+provider_mfa"}


def test_without_mfa_from_the_provider_postern_asks_for_its_own_second_factor(
    sso, live_server, page
):
    base = live_server.url
    sso.update_user("alice", amr=["pwd"])
    _sign_in(page, base, "alice", "alice-idp-password")

    # Back office needs a second factor: none from the provider, none enrolled, so enrol.
    expect(page).to_have_url(base + "/account/mfa/setup")
    page.goto(base + "/backoffice/")
    expect(page).to_have_url(base + "/account/mfa/setup")


def test_a_group_removed_at_the_provider_changes_or_removes_the_role_at_next_sign_in(
    sso, live_server, browser
):
    base = live_server.url
    first = browser.new_context().new_page()
    _sign_in(first, base, "bob", "bob-idp-password")
    expect(first).to_have_url(base + "/agent/")  # supervisors work from the agent console
    assert _user(live_server.app, "bob")["role"] == "supervisor"

    # Moved to the agents' group: the next sign-in (another browser) makes Bob an agent.
    sso.update_user("bob", groups=["postern-agents"])
    second = browser.new_context().new_page()
    _sign_in(second, base, "bob", "bob-idp-password")
    expect(second).to_have_url(base + "/agent/")
    assert _user(live_server.app, "bob")["role"] == "agent"
    changed = [row for row in audit_rows(live_server.app) if row.action == "staff.role_changed"]
    assert changed[-1].details["from"] == "supervisor"
    assert changed[-1].details["to"] == "agent"
    assert changed[-1].actor_label == f"sso:{PROVIDER}"

    # Taken out of every mapped group: refused, and the sessions still open end at once.
    sso.update_user("bob", groups=["everyone"])
    third = browser.new_context().new_page()
    _sign_in(third, base, "bob", "bob-idp-password")
    expect(third.get_by_role("alert")).to_contain_text(
        "Your organisation has not given you access to Postern."
    )
    second.goto(base + "/agent/")
    expect(second).to_have_url(re.compile(re.escape(base) + r"/login"))
    removed = [row for row in audit_rows(live_server.app) if row.action == "sso.access_removed"]
    assert removed and removed[-1].details["sessions_ended"] >= 1
    for context in (first.context, second.context, third.context):
        context.close()


def test_a_forged_state_is_refused(sso, live_server, page, holder):
    base = live_server.url
    held = holder.hold_next("callback")
    _sign_in(page, base, "alice", "alice-idp-password")
    expect(page.get_by_text("held by the test")).to_be_visible()

    # A genuine, unused code, but a state this browser's session never issued.
    page.goto(base + _with_param(held[0], state="forged-by-an-attacker"))
    expect(page.get_by_role("alert")).to_contain_text(FAILED)
    page.goto(base + "/backoffice/")
    expect(page).to_have_url(re.compile(re.escape(base) + r"/login"))
    failed = [row for row in audit_rows(live_server.app) if row.action == "sso.sign_in_failed"]
    assert failed[-1].details == {"provider": PROVIDER, "reason": "oauth:mismatching_state"}


def test_a_replayed_code_is_refused(sso, live_server, page, holder):
    base = live_server.url
    held = holder.hold_next("callback")
    _sign_in(page, base, "alice", "alice-idp-password")
    expect(page.get_by_text("held by the test")).to_be_visible()
    # The cookies as they were before the code was used: whoever replays a code has both.
    before = page.context.cookies()

    page.goto(base + held[0])
    expect(page).to_have_url(base + "/backoffice/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(base + "/login")

    page.context.clear_cookies()
    page.context.add_cookies(before)
    page.goto(base + held[0])  # the same code, state, PKCE verifier and nonce as the first time
    expect(page.get_by_role("alert")).to_contain_text(FAILED)
    page.goto(base + "/backoffice/")
    expect(page).to_have_url(re.compile(re.escape(base) + r"/login"))
    failed = [row for row in audit_rows(live_server.app) if row.action == "sso.sign_in_failed"]
    assert failed[-1].details == {"provider": PROVIDER, "reason": "oauth:invalid_grant"}


def test_an_id_token_for_another_nonce_is_refused(sso, live_server, page, holder):
    """The authorisation request reaches the provider with a different nonce than the one
    Postern keeps: the code is genuine and PKCE matches, but the ID token names the other
    nonce, and Postern refuses it."""
    base = live_server.url
    held = holder.hold_next("start")
    _start(page, base)
    expect(page.get_by_text("held by the test")).to_be_visible()
    assert parse_qs(urlsplit(held[0]).query)["code_challenge_method"] == ["S256"]

    page.goto(_with_param(held[0], nonce="a-nonce-postern-never-sent"))
    _sign_in_at_provider(page, "alice", "alice-idp-password")
    expect(page.get_by_role("alert")).to_contain_text(FAILED)
    page.goto(base + "/backoffice/")
    expect(page).to_have_url(re.compile(re.escape(base) + r"/login"))
    failed = [row for row in audit_rows(live_server.app) if row.action == "sso.sign_in_failed"]
    assert failed[-1].details == {"provider": PROVIDER, "reason": "id_token:invalid_claim"}


def test_signing_out_at_the_provider_ends_the_postern_session_by_back_channel(
    sso, live_server, page
):
    base = live_server.url
    _sign_in(page, base, "alice", "alice-idp-password")
    expect(page).to_have_url(base + "/backoffice/")

    page.goto(sso.issuer + "/session/end")
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("heading", name="Signed out of the identity provider")).to_be_visible()

    page.goto(base + "/backoffice/")
    expect(page).to_have_url(re.compile(re.escape(base) + r"/login"))
    expect(page.get_by_role("status")).to_contain_text(
        "You signed out of your organisation's account"
    )
    logout = [row for row in audit_rows(live_server.app) if row.action == "sso.backchannel_logout"]
    assert logout and logout[-1].details["sessions_ended"] == 1


def test_the_sign_in_page_with_single_sign_on_passes_axe(sso, live_server, page):
    """WCAG 2.2 AA (axe-core, and reflow at 320px) for the sign-in page with its provider
    button, with a refusal on it, and in SSO-only mode with the break-glass form unfolded."""
    base = live_server.url
    audit = AxeAudit()
    page.goto(base + "/login")
    audit.check(page, "sign-in with single sign-on")
    sso.update_user("alice", groups=["everyone"])
    _sign_in(page, base, "alice", "alice-idp-password")
    expect(page.get_by_role("alert")).to_contain_text("has not given you access")
    audit.check(page, "single sign-on refused")

    live_server.app.config.update(SSO_ONLY=True, SSO_BREAK_GLASS_USERNAME="rescue-admin")
    page.goto(base + "/login")
    page.get_by_text("Emergency access for the administrator").click()
    expect(page.get_by_label("Username")).to_be_visible()
    audit.check(page, "sign-in, SSO-only")
    audit.assert_clean()
