"""Staff sessions over HTTP: idle and absolute timeouts, id rotation at login, logout."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.models.types import utcnow
from tests.support.auth import session_rows, sid, text_of, update_sessions
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import current_totp, login, post_form

IDLE_MESSAGE = "You were signed out after 15 minutes without activity."
ABSOLUTE_MESSAGE = "Your session reached its maximum length. Please sign in again."


def test_after_fifteen_idle_minutes_the_next_request_goes_to_the_sign_in_page(app, logged_in):
    client, user = logged_in("agent")
    assert client.get("/agent/").status_code == 200
    update_sessions(app, user.id, last_seen_at=utcnow() - timedelta(minutes=15, seconds=5))

    response = client.get("/agent/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/agent/"
    page = client.get(response.headers["Location"])
    assert IDLE_MESSAGE in text_of(page)
    # Said once, not on every later visit.
    assert IDLE_MESSAGE not in text_of(client.get("/login"))
    (row,) = session_rows(app, user.id)
    assert row.ended_at is not None and row.end_reason == "idle_timeout"


def test_fourteen_idle_minutes_are_fine_and_count_as_activity(app, logged_in):
    client, user = logged_in("agent")
    update_sessions(app, user.id, last_seen_at=utcnow() - timedelta(minutes=14, seconds=30))
    assert client.get("/agent/").status_code == 200
    (row,) = session_rows(app, user.id)
    assert utcnow() - row.last_seen_at < timedelta(seconds=30)
    assert client.get("/agent/").status_code == 200


def test_a_timed_out_json_request_gets_401_not_a_redirect(app, logged_in):
    client, user = logged_in("agent")
    update_sessions(app, user.id, last_seen_at=utcnow() - timedelta(minutes=16))
    response = client.get("/agent/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.is_json and response.get_json()["error"] == "not_authenticated"
    assert client.get("/agent/").status_code == 302


def test_the_absolute_lifetime_ends_even_an_active_session(app, logged_in):
    client, user = logged_in("backoffice")
    update_sessions(app, user.id, created_at=utcnow() - timedelta(hours=10, minutes=1))
    response = client.get("/backoffice/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert ABSOLUTE_MESSAGE in text_of(client.get(response.headers["Location"]))
    assert session_rows(app, user.id)[-1].end_reason == "absolute_timeout"


def test_a_timed_out_session_stays_dead_even_if_the_clock_is_wound_back(app, logged_in):
    client, user = logged_in("agent")
    old_cookie = client.get_cookie("postern_session").value
    update_sessions(app, user.id, last_seen_at=utcnow() - timedelta(minutes=20))
    assert client.get("/agent/").status_code == 302
    update_sessions(app, user.id, last_seen_at=utcnow())
    client.set_cookie("postern_session", old_cookie)
    assert client.get("/agent/").status_code == 302


def test_a_password_only_session_expires_after_five_minutes(app, client, make_staff):
    user = make_staff("backoffice", mfa=True)
    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    update_sessions(app, user.id, created_at=utcnow() - timedelta(minutes=6))
    response = client.get("/login/mfa")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "took too long" in text_of(client.get("/login"))


def test_login_issues_a_new_session_token_and_a_planted_one_is_useless(app, client, make_staff):
    """Session fixation: whatever token the browser had before login is not the one after."""
    victim = make_staff("agent")
    attacker_account = make_staff("agent")
    # The attacker signs in to get a real, valid session token, and plants that cookie.
    attacker = app.test_client()
    login(attacker, attacker_account)
    planted_cookie = attacker.get_cookie("postern_session").value
    planted_sid = sid(attacker)
    client.set_cookie("postern_session", planted_cookie)
    assert sid(client) == planted_sid

    login(client, victim)
    assert sid(client) not in (None, planted_sid)
    assert client.get_cookie("postern_session").value != planted_cookie
    console = text_of(client.get("/agent/"))
    assert victim.username in console and attacker_account.username not in console
    # The planted token is not logged in as the victim (its session was ended by the rotation).
    attacker.set_cookie("postern_session", planted_cookie)
    response = attacker.get("/agent/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    (planted_row,) = session_rows(app, attacker_account.id)
    assert planted_row.end_reason == "rotated"


def test_a_cookie_copied_before_login_does_not_follow_the_login(app, client, make_staff):
    user = make_staff("agent")
    client.get("/login")
    before_login = client.get_cookie("postern_session").value
    thief = app.test_client()
    thief.set_cookie("postern_session", before_login)
    login(client, user)
    assert client.get("/agent/").status_code == 200
    response = thief.get("/agent/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_second_factor_rotates_the_token_again(app, client, make_staff):
    user = make_staff("backoffice", mfa=True)
    client.get("/login")
    pre_login = sid(client)
    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    password_only = sid(client)
    password_only_cookie = client.get_cookie("postern_session").value
    assert password_only not in (None, pre_login)

    post_form(client, "/login/mfa", {"code": current_totp(user)})
    full = sid(client)
    assert full not in (None, password_only)
    assert client.get("/backoffice/").status_code == 200

    stolen = app.test_client()
    stolen.set_cookie("postern_session", password_only_cookie)
    assert stolen.get("/backoffice/").status_code == 302
    assert stolen.get("/login/mfa").status_code == 302  # not even the code page
    first, second = session_rows(app, user.id)
    assert not first.mfa_verified and first.end_reason == "rotated"
    assert second.mfa_verified and second.ended_at is None


def test_a_password_only_session_reaches_nothing_but_the_second_factor_page(
    app, client, make_staff
):
    user = make_staff("backoffice", mfa=True)
    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    for path in ("/backoffice/", "/account", "/account/password", "/agent/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/login/mfa", path
    assert client.get("/login/mfa").status_code == 200


@pytest.mark.parametrize("cookie", ["garbage", "eyJzaWQiOiJ4In0.forged.signature", "a" * 4000])
def test_a_forged_or_garbled_session_cookie_is_just_not_signed_in(client, cookie):
    client.set_cookie("postern_session", cookie)
    response = client.get("/agent/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200


def test_logout_ends_the_session_in_the_database(app, logged_in):
    client, user = logged_in("agent")
    cookie = client.get_cookie("postern_session").value
    response = post_form(client, "/logout", {}, page="/account")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "You have signed out." in text_of(client.get("/login"))
    assert client.get("/agent/").status_code == 302
    (row,) = session_rows(app, user.id)
    assert row.end_reason == "logout"
    # Replaying the old cookie does not bring the session back.
    replay = app.test_client()
    replay.set_cookie("postern_session", cookie)
    assert replay.get("/agent/").status_code == 302


def test_logout_needs_a_post_with_a_csrf_token(logged_in):
    client, _ = logged_in("agent")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/agent/").status_code == 200


def test_disabling_an_account_ends_its_live_session_at_the_next_request(app, logged_in):
    client, user = logged_in("agent")
    result = app.test_cli_runner().invoke(args=["users", "disable", user.username])
    assert result.exit_code == 0, result.output
    response = client.get("/agent/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/agent/", "/account"])
def test_session_cookies_are_http_only_and_same_site(client, make_staff, path):
    login(client, make_staff("agent"))
    client.get(path)
    cookie = client.get_cookie("postern_session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert cookie.expires is None  # a browser-session cookie, gone when the browser closes


def test_session_cookies_are_secure_where_the_settings_say_so(app_factory, make_staff):
    secure_app = app_factory(SESSION_COOKIE_SECURE=True)
    client = secure_app.test_client()
    response = client.get("/login", base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]
