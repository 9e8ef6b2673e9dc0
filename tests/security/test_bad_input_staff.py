"""Generated bad input against every staff form and JSON endpoint: login, second factor,
password change, capture create, revoke/extend/resend and the status API.

Hypothesis throws text of every kind at each field (any unicode, NULs and control characters,
right-to-left marks, emoji, numbers written as strings, markup and template syntax, very long
values). No input may produce a 500, and every rejection must say what is wrong: an error
summary (role="alert") whose entries link to labelled fields, or a page that names the problem.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.security.bad_input_support import BOUNDED, assert_explained, junk
from tests.support.capture import DEFAULT_FORM, create_direct
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, login

pytestmark = [pytest.mark.bad_input]

NO_LIMITS = {
    "RATELIMIT_LOGIN_PER_IP": "100000 per minute",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "100000 per minute",
    "LOGIN_MAX_FAILURES": 10**6,
}


def test_login_form(app_factory):
    """Proves: any username and password get a 200, 401, 400 or 413, never a server error, and
    every rejection says what is wrong; a 200 or 401 shows an error summary (role="alert")."""
    app = app_factory(**NO_LIMITS)
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))

    @BOUNDED
    @given(username=junk, password=junk)
    def check(username, password):
        answer = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        assert answer.status_code in (200, 401, 400, 413), answer.status_code
        assert_explained(answer)
        if answer.status_code in (200, 401):
            assert 'role="alert"' in answer.get_data(as_text=True)

    check()


def test_second_factor_form(app_factory, make_staff):
    """Proves: any second-factor code, after a correct password, gets a 200, 401, 400 or 413,
    never a server error; every answer but a 413 shows an error summary (role="alert")."""
    app = app_factory(**NO_LIMITS)
    client = app.test_client()
    user = make_staff("backoffice", mfa=True)
    page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    token = csrf_from(client.get("/login/mfa").get_data(as_text=True))

    @BOUNDED
    @given(code=junk)
    def check(code):
        answer = client.post("/login/mfa", data={"code": code, "csrf_token": token})
        assert answer.status_code in (200, 401, 400, 413), answer.status_code
        assert_explained(answer)
        assert 'role="alert"' in answer.get_data(as_text=True) or answer.status_code == 413

    check()


def test_password_change_form(app_factory, make_staff):
    """Proves: junk in the current, new and confirm password fields gets a 200, 400 or 413,
    never a server error, and every rejection says what is wrong."""
    app = app_factory(**NO_LIMITS)
    client = app.test_client()
    login(client, make_staff("agent"))
    token = csrf_from(client.get("/account/password").get_data(as_text=True))

    @BOUNDED
    @given(current=junk, new=junk, confirm=junk)
    def check(current, new, confirm):
        answer = client.post(
            "/account/password",
            data={
                "current_password": current,
                "new_password": new,
                "confirm_password": confirm,
                "csrf_token": token,
            },
        )
        assert answer.status_code in (200, 400, 413), answer.status_code
        assert_explained(answer)

    check()


CREATE_FIELDS = [
    "kind",
    "amount",
    "currency",
    "purpose",
    "reference",
    "interaction_id",
    "field_set",
    "identity_item",
    "identity_value",
    "expiry_minutes",
    "channel",
    "destination",
    "create_key",
]


def test_capture_create_form(app_factory, make_staff):
    """Proves: junk in up to five fields of the agent's create form, alone or over a valid form,
    gets a 201, 302, 400 or 413, never a server error. A 400 shows an error summary
    (role="alert") whose links reach labelled fields."""
    app = app_factory(**NO_LIMITS)
    client = app.test_client()
    login(client, make_staff("agent"))
    token = csrf_from(client.get("/agent/").get_data(as_text=True))

    @BOUNDED
    @given(
        st.dictionaries(st.sampled_from(CREATE_FIELDS), junk, min_size=1, max_size=5),
        st.booleans(),
    )
    def check(changes, start_valid):
        base = {**DEFAULT_FORM, "create_key": "k" * 20} if start_valid else {}
        answer = client.post("/agent/requests", data={**base, **changes, "csrf_token": token})
        assert answer.status_code in (201, 302, 400, 413), answer.status_code
        assert_explained(answer)
        if answer.status_code == 400:
            text = answer.get_data(as_text=True)
            assert 'class="error-summary"' in text and 'role="alert"' in text

    check()


def test_revoke_extend_resend_and_the_status_api(app_factory, make_staff):
    """Proves: revoke, extend and resend with junk request ids, minutes, channels and destinations
    never cause a server error, and every refusal says what is wrong. The status API, given junk
    ids and If-None-Match values, answers 200, 304 or 404, the 404 as JSON "Page not found"."""
    app = app_factory(**NO_LIMITS)
    client = app.test_client()
    agent = make_staff("agent")
    login(client, agent)
    public_id, _ = create_direct(app, agent.id)
    token = csrf_from(client.get("/agent/").get_data(as_text=True))

    @BOUNDED
    @given(
        action=st.sampled_from(["revoke", "extend", "resend"]),
        target=st.one_of(st.just(public_id), junk.filter(lambda s: len(s) < 2000)),
        minutes=junk,
        channel=junk,
        destination=junk,
        etag=junk.filter(lambda s: len(s) < 2000 and "\n" not in s and "\r" not in s),
    )
    def check(action, target, minutes, channel, destination, etag):
        path = quote(target, safe="") or "x"
        answer = client.post(
            f"/agent/requests/{path}/{action}",
            data={
                "minutes": minutes,
                "channel": channel,
                "destination": destination,
                "csrf_token": token,
            },
        )
        assert answer.status_code in (200, 302, 400, 404, 413), answer.status_code
        assert_explained(answer, form_page=False)
        try:
            headers = {"If-None-Match": etag.encode("latin-1", "ignore").decode("latin-1")}
        except UnicodeError:  # pragma: no cover
            headers = {}
        status = client.get(f"/agent/api/requests/{path}/status", headers=headers)
        assert status.status_code in (200, 304, 404), status.status_code
        if status.status_code == 404:
            assert status.get_json() == {"error": 404, "message": "Page not found"}

    check()


def test_error_summary_links_reach_the_radio_groups(logged_in):
    """Proves: a bogus kind is refused with 400 and an error summary link to "#kind", and the
    page has an element with id "kind" for that link to reach."""
    client, _ = logged_in("agent")
    page = client.get("/agent/").get_data(as_text=True)
    answer = client.post(
        "/agent/requests", data={**DEFAULT_FORM, "kind": "bogus", "csrf_token": csrf_from(page)}
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400 and 'href="#kind"' in text
    assert 'id="kind"' in text
