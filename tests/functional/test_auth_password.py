"""Changing a password: the policy, the current password, and the other sessions."""

from __future__ import annotations

import pytest

from tests.support.auth import audit_rows, field_error, session_rows, staff_row, text_of
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import login, post_form

NEW_PASSWORD = "a brand new passphrase 77"


def _change(client, current, new, confirm=None):
    return post_form(
        client,
        "/account/password",
        {
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
    )


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(app, make_staff):
    user = make_staff("agent")
    here, elsewhere = app.test_client(), app.test_client()
    login(here, user)
    login(elsewhere, user)
    assert elsewhere.get("/agent/").status_code == 200

    response = _change(here, DEFAULT_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "Your password has been changed" in text_of(here.get("/account"))
    assert here.get("/agent/").status_code == 200

    sent_away = elsewhere.get("/agent/")
    assert sent_away.status_code == 302 and sent_away.headers["Location"].startswith("/login")
    assert "Your password was changed" in text_of(elsewhere.get(sent_away.headers["Location"]))

    reasons = sorted(row.end_reason or "live" for row in session_rows(app, user.id))
    assert reasons == ["live", "password_changed"]
    (row,) = audit_rows(app, "auth.password_changed")
    assert row.details == {"other_sessions_ended": 1} and row.actor_id == user.id

    # The new password works; the old one does not.
    fresh = app.test_client()
    refused = post_form(fresh, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert refused.status_code == 401
    login(fresh, user, NEW_PASSWORD)
    assert fresh.get("/agent/").status_code == 200


def test_a_wrong_current_password_is_refused_next_to_its_field(app, logged_in):
    client, user = logged_in("agent")
    before = staff_row(app, user.id).password_hash
    response = _change(client, "not my password at all", NEW_PASSWORD)
    assert response.status_code == 400
    assert field_error(response, "current_password") == (
        "Error: Your current password is not right."
    )
    assert staff_row(app, user.id).password_hash == before
    assert staff_row(app, user.id).failed_login_count == 1
    assert audit_rows(app, "auth.login_failed")[-1].details["factor"] == "password_change"


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("too short", "Use at least 12 characters."),
        ("q1w2e3r4t5y6", "This password is on a list of common or breached passwords."),
        ("1qaz2wsx3edc", "This password is on a list of common or breached passwords."),
        ("I am {username} and proud", "The password must not contain your username."),
    ],
)
def test_policy_errors_are_shown_next_to_the_new_password(app, logged_in, new_password, message):
    client, user = logged_in("agent")
    before = staff_row(app, user.id).password_hash
    new_password = new_password.format(username=user.username.upper())
    response = _change(client, DEFAULT_PASSWORD, new_password)
    assert response.status_code == 400
    assert message in field_error(response, "new_password")
    page = response.get_data(as_text=True)
    assert 'aria-describedby="new_password-hint new_password-error"' in page
    assert 'aria-invalid="true"' in page
    assert new_password not in page  # never echoed back into the page
    assert staff_row(app, user.id).password_hash == before


def test_the_two_new_passwords_must_match(app, logged_in):
    client, user = logged_in("agent")
    response = _change(client, DEFAULT_PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert response.status_code == 200
    assert "do not match" in field_error(response, "confirm_password")
    assert not audit_rows(app, "auth.password_changed")


def test_a_changed_password_is_stored_as_a_new_argon2id_hash(app, logged_in):
    client, user = logged_in("agent")
    before = staff_row(app, user.id)
    _change(client, DEFAULT_PASSWORD, NEW_PASSWORD)
    after = staff_row(app, user.id)
    assert after.password_hash != before.password_hash
    assert after.password_hash.startswith("$argon2id$")
    assert NEW_PASSWORD not in after.password_hash
    assert after.password_changed_at > before.password_changed_at


def test_the_change_page_needs_a_full_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account/password"


def test_password_change_attempts_are_rate_limited_per_staff_member(app, make_staff):
    """Ten tries a minute for one person; colleagues behind the same address are unaffected."""
    guesser, colleague = app.test_client(), app.test_client()
    login(guesser, make_staff("agent"))
    login(colleague, make_staff("agent"))
    statuses = [_change(guesser, "not my password", NEW_PASSWORD).status_code for _ in range(11)]
    assert statuses == [400] * 10 + [429]
    assert "Too many attempts" in text_of(_change(guesser, DEFAULT_PASSWORD, NEW_PASSWORD))
    assert _change(colleague, DEFAULT_PASSWORD, NEW_PASSWORD).status_code == 302


def test_the_current_and_the_last_four_passwords_are_refused_with_a_clear_message(app, logged_in):
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.staff.login import set_password

    client, user = logged_in("agent")
    used = [DEFAULT_PASSWORD] + [f"winter ferry compass {n} tulip" for n in range(1, 6)]
    with app.app_context():  # five earlier changes (the page allows ten tries a minute)
        for new in used[1:]:
            set_password(db.session.get(StaffUser, user.id), new)
            db.session.commit()
    current = used[-1]

    for recent in used[-5:]:  # the current password and the four before it
        refused = _change(client, current, recent)
        assert refused.status_code == 400
        assert field_error(refused, "new_password") == (
            "Error: You have used this password recently. Choose one that is different from "
            "your current password and your previous 4."
        )
    assert _change(client, current, used[0]).status_code == 302  # six passwords ago
