"""Open redirects: a hostile ``next`` never sends a freshly signed-in user off-site."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from tests.support.auth import NO_LOGIN_RATE_LIMITS
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, current_totp

# Written as they would appear in the query string (some already percent-encoded).
HOSTILE_RAW = [
    "//evil.example",
    "//evil.example/agent/",
    "///evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "/%5C/evil.example",
    "\\/evil.example",
    "https://evil.example",
    "https%3A%2F%2Fevil.example",
    "http:evil.example",
    "https:/evil.example",
    "HTTPS://EVIL.EXAMPLE",
    "javascript:alert(1)",
    "javascript%3Aalert(1)",
    "data:text/html,%3Cscript%3Ealert(1)%3C/script%3E",
    "%09//evil.example",
    "\t//evil.example",
    "/%09/evil.example",
    "/%0A/evil.example",
    "/%0D%0A/evil.example",
    "%20//evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "evil.example",
    "@evil.example",
]
GOOD = ["/account", "/account/password", "/agent/?tab=recent", "/agent/"]


def assert_stays_on_site(location: str) -> None:
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/"), location
    # What a browser would make of it: tabs and newlines dropped, backslashes read as slashes.
    normalised = "".join(ch for ch in location if ch not in "\t\r\n").replace("\\", "/")
    assert not normalised.startswith("//"), location
    assert "evil.example" not in location.lower(), location


@pytest.fixture
def lenient(app_factory, app):
    return app_factory(**NO_LOGIN_RATE_LIMITS)


def _sign_in(client, username: str, raw_next: str):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(
        f"/login?next={raw_next}",
        data={"username": username, "password": DEFAULT_PASSWORD, "csrf_token": token},
    )


def test_a_hostile_next_is_ignored_after_a_password_login(lenient, make_staff):
    """Proves: after a password login, a next= pointing off-site (schemes, //host, backslashes,
    encoded tricks) is ignored and the user lands on their home page."""
    user = make_staff("agent")
    for raw_next in HOSTILE_RAW:
        client = lenient.test_client()
        response = _sign_in(client, user.username, raw_next)
        assert response.status_code == 302, raw_next
        assert_stays_on_site(response.headers["Location"])
        assert response.headers["Location"] == "/agent/", raw_next


def test_a_hostile_next_is_ignored_after_the_second_factor(lenient, make_staff):
    """Proves: a hostile next= survives neither the password step nor the TOTP step, even when put
    straight onto the second step's address."""
    for raw_next in HOSTILE_RAW:
        user = make_staff("backoffice", mfa=True)  # one each: every login spends a TOTP code
        client = lenient.test_client()
        response = _sign_in(client, user.username, raw_next)
        assert response.status_code == 302, raw_next
        step_two = response.headers["Location"]
        assert_stays_on_site(step_two)
        assert step_two == "/login/mfa", raw_next
        # Even when the hostile value is put straight onto the second step's address.
        token = csrf_from(client.get("/login/mfa").get_data(as_text=True))
        response = client.post(
            f"/login/mfa?next={raw_next}", data={"code": current_totp(user), "csrf_token": token}
        )
        assert response.status_code == 302, raw_next
        assert_stays_on_site(response.headers["Location"])
        assert response.headers["Location"] == "/backoffice/", raw_next


@pytest.mark.parametrize("good", GOOD)
def test_a_same_site_next_is_honoured(lenient, make_staff, good):
    """Proves: a next= within the site is honoured after sign-in, so the guard does not break deep
    links."""
    user = make_staff("agent")  # a password-only sign-in (supervisors need a second factor)
    client = lenient.test_client()
    response = _sign_in(client, user.username, quote(good, safe=""))
    assert response.status_code == 302
    assert response.headers["Location"] == good


def test_a_same_site_next_survives_the_second_factor(lenient, make_staff):
    """Proves: a same-site next= is carried through the TOTP step to the page that was asked for."""
    user = make_staff("admin", mfa=True)
    client = lenient.test_client()
    response = _sign_in(client, user.username, quote("/account/password", safe=""))
    assert response.headers["Location"] == "/login/mfa?next=/account/password"
    token = csrf_from(client.get(response.headers["Location"]).get_data(as_text=True))
    response = client.post(
        "/login/mfa?next=/account/password",
        data={"code": current_totp(user), "csrf_token": token},
    )
    assert response.headers["Location"] == "/account/password"


def test_the_login_redirect_carries_the_page_that_was_asked_for(client):
    """Proves: a signed-out visit to a staff page redirects to sign-in with that page (query
    included, encoded) as next=, and the form posts it back."""
    response = client.get("/agent/?view=mine")
    assert response.headers["Location"] == "/login?next=/agent/?view%3Dmine"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'action="/login?next=/agent/?view%3Dmine"' in page


def test_the_login_page_does_not_reflect_a_hostile_next_into_markup(client):
    """Proves: a next= carrying markup is never reflected into the sign-in page as markup (no XSS
    through it)."""
    page = client.get('/login?next="><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


def test_a_next_with_a_nul_character_is_refused_before_login(lenient, make_staff):
    """A NUL in the query string never reaches the login at all: a plain 400, no redirect."""
    user = make_staff("agent")
    response = _sign_in(lenient.test_client(), user.username, "/%00/evil.example")
    assert response.status_code == 400
    assert "Location" not in response.headers
