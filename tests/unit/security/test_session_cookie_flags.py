"""The session cookie's flags: Secure exactly where the setting asks for it, HttpOnly always."""

from __future__ import annotations

import pytest


def _session_cookie(response) -> str:
    cookies = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("postern_session=")
    ]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def _flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_over_plain_http_without_secure_cookies_the_cookie_can_come_back(app_factory):
    """Development and the test client speak plain HTTP: with SESSION_COOKIE_SECURE off, the
    cookie must not be marked Secure, or the browser would never send it back."""
    app = app_factory(SESSION_COOKIE_SECURE=False)
    for _ in range(2):  # the setting holds after the app's first request too
        flags = _flags(_session_cookie(app.test_client().get("/login")))
        assert "secure" not in flags
        assert {"httponly", "samesite"} <= flags


def test_with_secure_cookies_the_cookie_is_https_only(app_factory):
    app = app_factory(SESSION_COOKIE_SECURE=True)
    response = app.test_client().get("/login", base_url="https://localhost")
    assert {"secure", "httponly", "samesite"} <= _flags(_session_cookie(response))


@pytest.mark.parametrize("secure", [False, True])
def test_no_setting_lets_scripts_read_the_session_cookie(app_factory, secure):
    """HttpOnly is forced by the security headers, whatever SESSION_COOKIE_HTTPONLY says: a
    script injected into a page must never read the session cookie."""
    app = app_factory(SESSION_COOKIE_HTTPONLY=False, SESSION_COOKIE_SECURE=secure)
    base = "https://localhost" if secure else "http://localhost"
    response = app.test_client().get("/login", base_url=base)
    assert "httponly" in _flags(_session_cookie(response))
