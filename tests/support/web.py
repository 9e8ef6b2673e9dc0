"""The test client as a person uses it: forms posted with the CSRF token their page carried
(CSRF stays on in tests), TOTP codes, and signing in through the real forms."""

from __future__ import annotations

import re
import time

import pyotp

from tests.support.staff import DEFAULT_PASSWORD

_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_from(html: str) -> str:
    """The CSRF token a page's form carries (the test then posts it, as a browser would)."""
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def post_form(client, url: str, data: dict, *, page: str | None = None, **kwargs):
    """GET ``page`` (default ``url``) for its CSRF token, then POST ``data`` to ``url``."""
    page_response = client.get(page or url)
    token = csrf_from(page_response.get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def current_totp(user, *, offset_steps: int = 0) -> str:
    """``user``'s TOTP code now, or ``offset_steps`` steps away (the server accepts one either
    side, for clock drift; a code is accepted once)."""
    totp = pyotp.TOTP(user.totp_secret)
    return totp.at(time.time() + offset_steps * totp.interval)


def login(client, user, password: str = DEFAULT_PASSWORD, *, totp_offset: int = 0):
    """Sign ``user`` in through the real forms (password, then TOTP if enrolled)."""
    response = post_form(client, "/login", {"username": user.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if user.mfa_enabled:
        response = post_form(
            client, "/login/mfa", {"code": current_totp(user, offset_steps=totp_offset)}
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def signed_in(app, make_staff, role: str = "agent", *, client=None, **staff_options):
    """A new ``role`` account (made by the ``make_staff`` fixture, enrolled in TOTP when the
    role needs a second factor) signed in on ``client`` or a new test client of ``app``;
    returns (client, user)."""
    user = make_staff(role, **staff_options)
    client = client or app.test_client()
    login(client, user)
    return client, user
