"""Staff sign-in: lockout (PCI DSS 8.3.4), one message for every failure, rate limits, audit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from portal.auth.views import BAD_LOGIN_MESSAGE
from portal.models.types import utcnow
from tests.support.auth import (
    NO_LOGIN_RATE_LIMITS,
    audit_rows,
    sid,
    staff_row,
    text_of,
    token_for,
    update_staff,
    wrong_totp,
)
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import current_totp, login


def _post_login(client, username, password, token, **kwargs):
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        **kwargs,
    )


def _fail(client, user, times: int, token: str) -> None:
    for _ in range(times):
        response = _post_login(client, user.username, "not the password at all", token)
        assert response.status_code == 401
        assert BAD_LOGIN_MESSAGE in text_of(response)


@pytest.fixture
def lenient(app_factory, app):
    """An app without login rate limits in the way; ``app`` is built first for make_staff."""
    return app_factory(**NO_LOGIN_RATE_LIMITS)


def test_ten_failed_passwords_lock_the_account_for_thirty_minutes(lenient, make_staff):
    user = make_staff("agent")
    client = lenient.test_client()
    token = token_for(client)
    _fail(client, user, 9, token)
    assert staff_row(lenient, user.id).failed_login_count == 9
    assert staff_row(lenient, user.id).locked_until is None

    _fail(client, user, 1, token)
    locked_until = staff_row(lenient, user.id).locked_until
    assert locked_until is not None
    assert timedelta(minutes=29) < locked_until - utcnow() <= timedelta(minutes=30)

    # The right password no longer helps, and the answer is the usual one.
    refused = _post_login(client, user.username, DEFAULT_PASSWORD, token)
    assert refused.status_code == 401
    assert BAD_LOGIN_MESSAGE in text_of(refused)
    assert sid(client) is None
    assert client.get("/agent/").status_code == 302

    # A minute before the lock ends: still refused.
    update_staff(lenient, user.id, locked_until=utcnow() + timedelta(minutes=1))
    assert _post_login(client, user.username, DEFAULT_PASSWORD, token).status_code == 401

    # Once the lock has expired, the right password works again and the slate is clean.
    update_staff(lenient, user.id, locked_until=utcnow() - timedelta(seconds=1))
    response = _post_login(client, user.username, DEFAULT_PASSWORD, token)
    assert response.status_code == 302 and response.headers["Location"] == "/agent/"
    assert client.get("/agent/").status_code == 200
    after = staff_row(lenient, user.id)
    assert after.failed_login_count == 0 and after.locked_until is None


def test_the_lockout_leaves_an_audit_trail(lenient, make_staff):
    user = make_staff("agent")
    client = lenient.test_client()
    token = token_for(client)
    _fail(client, user, 10, token)
    _post_login(client, user.username, DEFAULT_PASSWORD, token)

    failures = audit_rows(lenient, "auth.login_failed")
    assert [row.details["consecutive_failures"] for row in failures] == list(range(1, 11))
    assert all(row.target_id == str(user.id) and row.outcome == "failure" for row in failures)
    assert all(row.details["factor"] == "password" for row in failures)
    (locked,) = audit_rows(lenient, "auth.account_locked")
    assert locked.details == {"minutes": 30} and locked.target_id == str(user.id)
    (refused,) = audit_rows(lenient, "auth.login_refused_locked")
    assert refused.target_id == str(user.id)
    assert not audit_rows(lenient, "auth.login")


def test_failed_second_factor_codes_count_towards_the_lockout(lenient, make_staff):
    user = make_staff("backoffice", mfa=True)
    client = lenient.test_client()
    token = token_for(client)
    _fail(client, user, 9, token)
    response = _post_login(client, user.username, DEFAULT_PASSWORD, token)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login/mfa")

    mfa_token = token_for(client, "/login/mfa")
    response = client.post("/login/mfa", data={"code": wrong_totp(user), "csrf_token": mfa_token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert BAD_LOGIN_MESSAGE in text_of(client.get("/login"))
    assert staff_row(lenient, user.id).locked_until is not None
    assert client.get("/backoffice/").status_code == 302

    # Locked: even the right password and the right code get nowhere.
    token = token_for(client)
    assert _post_login(client, user.username, DEFAULT_PASSWORD, token).status_code == 401
    totp_failures = [
        row for row in audit_rows(lenient, "auth.login_failed") if row.details["factor"] == "totp"
    ]
    assert len(totp_failures) == 1 and totp_failures[0].details["consecutive_failures"] == 10
    assert len(audit_rows(lenient, "auth.account_locked")) == 1


def test_ten_wrong_codes_after_the_right_password_lock_the_account(lenient, make_staff):
    user = make_staff("admin", mfa=True)
    client = lenient.test_client()
    _post_login(client, user.username, DEFAULT_PASSWORD, token_for(client))
    mfa_token = token_for(client, "/login/mfa")
    for attempt in range(1, 10):
        response = client.post(
            "/login/mfa", data={"code": wrong_totp(user), "csrf_token": mfa_token}
        )
        assert response.status_code == 401, attempt
        assert "That code is not right" in text_of(response)
    response = client.post("/login/mfa", data={"code": wrong_totp(user), "csrf_token": mfa_token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert staff_row(lenient, user.id).locked_until is not None


def test_a_password_only_session_cannot_finish_signing_in_once_the_account_is_locked(
    lenient, make_staff
):
    """The owner's half-finished sign-in and an attacker's guesses elsewhere: the lock wins."""
    user = make_staff("backoffice", mfa=True)
    owner = lenient.test_client()
    _post_login(owner, user.username, DEFAULT_PASSWORD, token_for(owner))
    mfa_token = token_for(owner, "/login/mfa")

    attacker = lenient.test_client()
    _fail(attacker, user, 10, token_for(attacker))

    response = owner.post("/login/mfa", data={"code": current_totp(user), "csrf_token": mfa_token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert owner.get("/backoffice/").status_code == 302
    assert sid(owner) is None


def test_every_failure_gets_the_same_answer(lenient, make_staff):
    """No account enumeration: unknown user, wrong password, disabled and locked look alike."""
    user = make_staff("agent")
    disabled = make_staff("agent")
    locked = make_staff("agent")
    update_staff(lenient, disabled.id, is_active=False)
    update_staff(lenient, locked.id, locked_until=utcnow() + timedelta(minutes=30))
    client = lenient.test_client()
    token = token_for(client)
    attempts = {
        "unknown username": ("nobody.here", DEFAULT_PASSWORD),
        "wrong password": (user.username, "not the password at all"),
        "disabled account": (disabled.username, DEFAULT_PASSWORD),
        "locked account": (locked.username, DEFAULT_PASSWORD),
    }
    answers = {}
    for label, (username, password) in attempts.items():
        response = _post_login(client, username, password, token)
        answers[label] = (response.status_code, _error_summary(response))
        assert sid(client) is None, label
    assert len(set(answers.values())) == 1, answers
    status, message = next(iter(answers.values()))
    assert status == 401 and BAD_LOGIN_MESSAGE in message


def _error_summary(response) -> str:
    page = text_of(response)
    start = page.index("There is a problem")
    return page[start : page.index("Username", start)]


def test_a_failed_login_keeps_nothing_typed_out_of_the_audit_trail(lenient, make_staff):
    make_staff("agent")
    client = lenient.test_client()
    token = token_for(client)
    _post_login(client, "Typed-Secret-Username", "Typed-Secret-Password-1", token)
    (row,) = audit_rows(lenient, "auth.login_failed")
    assert row.details == {"reason": "unknown_or_disabled_account"}
    assert row.actor_label == "anonymous"
    everything = json.dumps([vars_of(r) for r in audit_rows(lenient)], default=str).lower()
    assert "typed-secret" not in everything


def vars_of(row) -> dict:
    return {key: value for key, value in vars(row).items() if not key.startswith("_")}


def test_a_successful_login_resets_the_count_and_is_audited(lenient, make_staff):
    user = make_staff("agent")
    client = lenient.test_client()
    token = token_for(client)
    _fail(client, user, 3, token)
    assert _post_login(client, user.username, DEFAULT_PASSWORD, token).status_code == 302
    assert staff_row(lenient, user.id).failed_login_count == 0
    assert staff_row(lenient, user.id).last_login_at is not None
    (row,) = audit_rows(lenient, "auth.login")
    assert row.details == {"factors": "password"} and row.actor_id == user.id

    other = lenient.test_client()
    _fail(other, user, 9, token_for(other))
    assert staff_row(lenient, user.id).locked_until is None


def test_usernames_are_matched_without_case_or_surrounding_spaces(lenient, make_staff):
    make_staff("agent", username="agent.casey")
    client = lenient.test_client()
    response = _post_login(client, "  Agent.Casey ", DEFAULT_PASSWORD, token_for(client))
    assert response.status_code == 302


def test_a_login_form_with_missing_fields_says_what_is_missing(client):
    response = _post_login(client, "", "", token_for(client))
    assert response.status_code == 200
    page = text_of(response)
    assert "Enter your username." in page and "Enter your password." in page
    assert sid(client) is None


def test_the_account_rate_limit_answers_429_with_a_friendly_page(app, make_staff):
    user = make_staff("agent")
    client = app.test_client()
    token = token_for(client)
    for _ in range(10):
        assert _post_login(client, user.username, "wrong password here", token).status_code == 401
    # Another address, same account: still limited (the key is the account).
    response = _post_login(
        client,
        user.username,
        DEFAULT_PASSWORD,
        token,
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 429
    page = text_of(response)
    assert "Too many attempts" in page and "Wait a minute" in page
    assert "Content-Security-Policy" in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    # Other accounts are not affected.
    other = make_staff("agent")
    assert _post_login(client, other.username, DEFAULT_PASSWORD, token).status_code == 302


def test_the_address_rate_limit_answers_429(app):
    client = app.test_client()
    token = token_for(client)
    for n in range(30):
        assert _post_login(client, f"user{n}", "wrong password here", token).status_code == 401
    assert _post_login(client, "user-last", "wrong password here", token).status_code == 429
    elsewhere = _post_login(
        client,
        "user-last",
        "wrong password here",
        token,
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert elsewhere.status_code == 401


def test_viewing_the_login_page_is_not_rate_limited(app):
    client = app.test_client()
    for _ in range(40):
        assert client.get("/login").status_code == 200


def test_an_agent_lands_on_the_console_and_back_office_staff_on_the_back_office(client, make_staff):
    agent = make_staff("agent")
    assert login(client, agent).headers["Location"] == "/agent/"
    auditor = make_staff("auditor")
    other = client.application.test_client()
    assert login(other, auditor).headers["Location"] == "/backoffice/"
