"""An administrator resets a colleague's password: re-authentication first; a temporary
password shown once and stored only as a hash; every session of theirs ends at once; their
next sign-in proves the second factor again (or enrols it again, when the authenticator was
lost) and then opens only the change-password page; audited without the password. Also
``flask users reset-password``."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from portal.models.types import utcnow
from tests.support.auth import session_rows, staff_row, text_of, update_staff
from tests.support.backoffice_write import audit_rows, reauth
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import current_totp, login, post_form

NEW_PASSWORD = "quiet harbour lantern 7 umbrella"
_TEMPORARY = re.compile(r'id="temporary-password"><code>([a-z2-9]{4}(?:-[a-z2-9]{4}){3})</code>')


@pytest.fixture
def admin(app, make_staff):
    client = app.test_client()
    user = make_staff("admin", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    return client, user


def reset(client, target_id: int, *, lost_authenticator: bool = False):
    page = f"/backoffice/staff/{target_id}"
    data = {"lost_authenticator": "y"} if lost_authenticator else {}
    return post_form(client, f"{page}/reset-password", data, page=page)


def temporary_password_on(response) -> str:
    match = _TEMPORARY.search(response.get_data(as_text=True))
    assert match, "the page shows no temporary password"
    return match.group(1)


def sign_in_with(client, username: str, password: str):
    return post_form(client, "/login", {"username": username, "password": password})


def test_the_reset_needs_a_fresh_reauthentication(app, make_staff):
    client = app.test_client()
    admin_user = make_staff("admin", mfa=True)
    target = make_staff("backoffice", mfa=True)
    login(client, admin_user)

    asked = reset(client, target.id)
    assert asked.status_code == 303
    assert asked.headers["Location"].startswith("/backoffice/reauth?next=/backoffice/staff/")
    assert audit_rows(app, "staff.password_reset") == []
    login(app.test_client(), target)  # the old password still works: nothing happened


def test_a_reset_ends_sessions_forces_the_second_factor_then_a_new_password(app, admin, make_staff):
    client, admin_user = admin
    target = make_staff("backoffice", mfa=True)
    their_browser = app.test_client()
    login(their_browser, target)

    shown = reset(client, target.id)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"].startswith("no-store")
    temporary = temporary_password_on(shown)
    assert "They were signed out everywhere (1 session ended)." in text_of(shown)

    # Audited, with the admin as actor; the password is nowhere but in that one response.
    [row] = audit_rows(app, "staff.password_reset")
    assert (row.actor_id, row.target_id) == (admin_user.id, str(target.id))
    assert row.details == {"sessions_ended": 1, "second_factor_reset": False, "unlocked": False}
    assert temporary not in json.dumps([r.details for r in audit_rows(app, "")])
    assert temporary not in client.get(f"/backoffice/staff/{target.id}").get_data(as_text=True)
    with app.app_context():
        assert staff_row(app, target.id).password_hash.startswith("$argon2id$")

    # Their open session ended at once, with a sentence saying why.
    ended = their_browser.get("/backoffice/")
    assert ended.headers["Location"].startswith("/login")
    assert "An administrator reset your password" in text_of(their_browser.get("/login"))
    assert all(r.ended_at for r in session_rows(app, target.id))

    # The old password is gone; the temporary one leads to the second factor first.
    fresh = app.test_client()
    assert sign_in_with(fresh, target.username, DEFAULT_PASSWORD).status_code == 401
    first = sign_in_with(fresh, target.username, temporary)
    assert first.headers["Location"] == "/login/mfa"
    assert fresh.get("/account/password").headers["Location"] == "/login/mfa"
    # Their old session used this step's code: a code works once, so take the next one.
    verified = post_form(fresh, "/login/mfa", {"code": current_totp(target, offset_steps=1)})
    assert verified.status_code == 302

    # Now only the change-password page opens; JSON asks for the change in words.
    for path in ("/backoffice/", "/account", "/backoffice/transactions"):
        assert fresh.get(path).headers["Location"] == "/account/password", path
    refused = fresh.get("/backoffice/", headers={"Accept": "application/json"})
    assert (refused.status_code, refused.json["error"]) == (403, "password_change_required")
    page = fresh.get("/account/password")
    assert "An administrator reset your password" in text_of(page)
    assert "Choose a new password" in text_of(page)

    def change(new: str):
        return post_form(
            fresh,
            "/account/password",
            {"current_password": temporary, "new_password": new, "confirm_password": new},
        )

    for recent in (temporary, DEFAULT_PASSWORD):  # neither the temporary nor the old one
        again = change(recent)
        assert again.status_code == 400
        assert "You have used this password recently" in text_of(again)
    done = change(NEW_PASSWORD)
    assert done.headers["Location"] == "/backoffice/"
    assert fresh.get("/backoffice/").status_code == 200
    assert not staff_row(app, target.id).password_must_change
    assert sign_in_with(app.test_client(), target.username, temporary).status_code == 401
    assert sign_in_with(app.test_client(), target.username, NEW_PASSWORD).headers["Location"] == (
        "/login/mfa"
    )


def test_a_lost_authenticator_is_removed_and_enrolled_again(app, admin, make_staff):
    client, _ = admin
    target = make_staff("backoffice", mfa=True)

    temporary = temporary_password_on(reset(client, target.id, lost_authenticator=True))

    [row] = audit_rows(app, "staff.password_reset")
    assert row.details["second_factor_reset"] is True
    user = staff_row(app, target.id)
    assert (user.mfa_enabled, user.totp_key_id, user.password_must_change) == (False, None, True)
    fresh = app.test_client()
    assert sign_in_with(fresh, target.username, temporary).headers["Location"] == (
        "/account/mfa/setup"
    )
    assert fresh.get("/backoffice/").headers["Location"] == "/account/mfa/setup"
    assert fresh.get("/account/password").headers["Location"] == "/account/mfa/setup"


def test_a_reset_lifts_a_lockout(app, admin, make_staff):
    client, _ = admin
    target = make_staff("backoffice", mfa=True)
    update_staff(app, target.id, locked_until=utcnow() + timedelta(minutes=30))
    assert sign_in_with(app.test_client(), target.username, DEFAULT_PASSWORD).status_code == 401

    temporary = temporary_password_on(reset(client, target.id))

    assert audit_rows(app, "staff.password_reset")[0].details["unlocked"] is True
    assert sign_in_with(app.test_client(), target.username, temporary).headers["Location"] == (
        "/login/mfa"
    )


def test_an_admin_cannot_reset_their_own_password_here(app, admin):
    client, admin_user = admin
    page = client.get(f"/backoffice/staff/{admin_user.id}").get_data(as_text=True)
    assert "reset-password" not in page and "use <a" in page
    refused = reset(client, admin_user.id)
    assert refused.status_code == 303
    followed = client.get(refused.headers["Location"])
    assert "You cannot reset the password of your own account" in text_of(followed)
    assert audit_rows(app, "staff.password_reset") == []


def test_the_reset_form_refuses_a_post_without_its_csrf_token(app, admin, make_staff):
    client, _ = admin
    target = make_staff("agent")
    assert client.post(f"/backoffice/staff/{target.id}/reset-password").status_code == 400
    assert audit_rows(app, "staff.password_reset") == []


def test_the_cli_prints_the_temporary_password_once_and_audits_it(app, make_staff):
    target = make_staff("backoffice", mfa=True)
    result = app.test_cli_runner().invoke(
        args=["users", "reset-password", target.username, "--lost-authenticator"]
    )
    assert result.exit_code == 0, result.output
    temporary = re.search(r"temporary password for \S+: (\S+)", result.output).group(1)
    assert "0 session(s) ended; they choose a new password at next sign-in" in result.output
    assert "second factor removed" in result.output
    [row] = audit_rows(app, "staff.password_reset")
    assert (row.actor_id, row.actor_label, row.target_id) == (None, "cli", str(target.id))
    assert temporary not in json.dumps(row.details)
    fresh = app.test_client()
    assert sign_in_with(fresh, target.username, temporary).headers["Location"] == (
        "/account/mfa/setup"
    )
