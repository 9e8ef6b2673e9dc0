"""Passkeys through the real views, answered by a software authenticator (real keys, real
signatures, real ``webauthn`` checks): register, second factor, passwordless sign-in, the
sign counter, single-use challenges, rename and remove, and every step in the audit trail.
The same journeys run in Chromium with its virtual authenticator in tests/browser."""

from __future__ import annotations

import re

import pytest

from tests.support.auth import audit_rows, staff_row, update_staff
from tests.support.passkey_authenticator import SoftAuthenticator
from tests.support.passkey_ceremonies import ORIGIN, passkeys_of, register, second_factor
from tests.support.passkey_ceremonies import send as _send
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, login, post_form


def password_step(client, user):
    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    return response


@pytest.fixture
def agent_with_passkey(app, make_staff):
    client = app.test_client()
    user = make_staff("agent")
    login(client, user)
    authenticator = SoftAuthenticator(ORIGIN)
    response = register(client, authenticator)
    assert response.status_code == 200, response.get_json()
    return client, user, authenticator


def test_a_passkey_is_registered_listed_and_audited(app, agent_with_passkey):
    """Proves: a passkey made on the account page is stored (public key, counter, backup flags),
    listed with its name and state, and audited without its name."""
    client, user, authenticator = agent_with_passkey
    (passkey,) = passkeys_of(app, user.id)
    assert passkey.name == "Work laptop"
    assert passkey.credential_id == authenticator.credential_id
    assert (passkey.sign_count, passkey.backup_eligible, passkey.backed_up) == (0, False, False)
    assert passkey.transports == "internal"
    page = client.get("/account").get_data(as_text=True)
    assert "Work laptop" in page and "On one device only" in page
    (row,) = audit_rows(app, "auth.passkey_registered")
    assert row.target_id == str(user.id)
    assert row.details == {"passkey": passkey.id, "backup_eligible": False, "backed_up": False}


def test_a_synced_passkey_shows_its_backup_state(app, make_staff):
    client = app.test_client()
    user = make_staff("agent")
    login(client, user)
    assert register(client, SoftAuthenticator(ORIGIN, synced=True), "Phone").status_code == 200
    (passkey,) = passkeys_of(app, user.id)
    assert (passkey.backup_eligible, passkey.backed_up) == (True, True)
    assert "Synced to your other devices" in client.get("/account").get_data(as_text=True)


def test_several_passkeys_share_one_user_handle(app, agent_with_passkey):
    client, user, first = agent_with_passkey
    second = SoftAuthenticator(ORIGIN)
    assert register(client, second, "Phone").status_code == 200
    keys = passkeys_of(app, user.id)
    assert [k.name for k in keys] == ["Work laptop", "Phone"]
    assert keys[0].user_handle == keys[1].user_handle == first.user_handle == second.user_handle


def test_the_same_passkey_is_not_registered_twice(app, agent_with_passkey):
    client, user, authenticator = agent_with_passkey
    again = register(client, authenticator, "Same laptop")
    assert again.status_code == 400
    assert again.get_json() == {"error": "That passkey is already registered."}
    assert [p.name for p in passkeys_of(app, user.id)] == ["Work laptop"]


def test_registration_with_another_origin_is_refused_and_audited(app, make_staff):
    client = app.test_client()
    user = make_staff("agent")
    login(client, user)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    options = _send(client, "/account/passkeys/options", token).get_json()
    credential = SoftAuthenticator(ORIGIN).create(options, origin="https://postern.example.net")
    refused = _send(client, "/account/passkeys", token, {"name": "x", "credential": credential})
    assert refused.status_code == 400
    assert passkeys_of(app, user.id) == []
    assert audit_rows(app, "auth.passkey_registration_failed")[0].outcome == "failure"


def test_a_passkey_is_the_second_factor_at_sign_in(app, make_staff):
    """Proves: an account with TOTP and a passkey may finish signing in with either; the login is
    audited as password+passkey and the passkey's counter and last use are stored."""
    user = make_staff("backoffice", mfa=True)
    client = app.test_client()
    login(client, user)
    authenticator = SoftAuthenticator(ORIGIN)
    assert register(client, authenticator).status_code == 200
    post_form(client, "/logout", {}, page="/account")

    fresh = app.test_client()
    password_step(fresh, user)
    page = fresh.get("/login/mfa").get_data(as_text=True)
    assert "Use a passkey" in page and "authenticator app" in page
    answer, _, _ = second_factor(fresh, authenticator)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"redirect": "/backoffice/"}
    assert fresh.get("/backoffice/").status_code == 200
    assert audit_rows(app, "auth.login")[-1].details == {"factors": "password+passkey"}
    used = audit_rows(app, "auth.passkey_used")[-1]
    assert used.details["purpose"] == "second_factor"
    (passkey,) = passkeys_of(app, user.id)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None


def test_a_passkey_counts_as_the_second_factor_a_role_requires(app, agent_with_passkey):
    """Proves: an account whose only second factor is a passkey is asked for it (not sent to
    enrol an app) once its role requires one, and reaches the back office with it."""
    _, user, authenticator = agent_with_passkey
    update_staff(app, user.id, role="supervisor")
    client = app.test_client()
    assert password_step(client, user).headers["Location"] == "/login/mfa"
    page = client.get("/login/mfa").get_data(as_text=True)
    assert "Use a passkey" in page and 'name="code"' not in page
    assert client.get("/backoffice/").headers["Location"] == "/login/mfa"
    answer, _, _ = second_factor(client, authenticator)
    assert answer.status_code == 200
    assert client.get("/backoffice/").status_code == 200


def test_a_sign_counter_that_goes_backwards_is_refused_and_audited(app, agent_with_passkey):
    """Proves: an assertion whose counter does not move past the stored one (a cloned
    authenticator) is refused, audited with its reason, and counted as a failed sign-in."""
    _, user, authenticator = agent_with_passkey
    update_staff(app, user.id, role="supervisor")
    first = app.test_client()
    password_step(first, user)
    assert second_factor(first, authenticator, counter=5)[0].status_code == 200

    clone = app.test_client()
    password_step(clone, user)
    refused, _, _ = second_factor(clone, authenticator, counter=3)
    assert refused.status_code == 401
    assert "copied" in refused.get_json()["error"]
    row = audit_rows(app, "auth.passkey_refused")[-1]
    assert row.details == {"reason": "counter_went_backwards"}
    assert row.target_id == str(user.id)
    assert audit_rows(app, "auth.login_failed")[-1].details["factor"] == "passkey"
    assert passkeys_of(app, user.id)[0].sign_count == 5
    assert clone.get("/backoffice/").headers["Location"] == "/login/mfa"


def test_a_challenge_answers_once(app, agent_with_passkey):
    """Proves: a challenge is spent by its first answer, even a refused one, and an answer to
    one browser's challenge is refused in another browser."""
    _, user, authenticator = agent_with_passkey
    update_staff(app, user.id, role="supervisor")
    client = app.test_client()
    password_step(client, user)
    token = csrf_from(client.get("/login/mfa").get_data(as_text=True))
    options = _send(client, "/login/passkey/options", token).get_json()
    phished = authenticator.get(options, origin="https://postern.example.net")
    assert _send(client, "/login/passkey", token, {"credential": phished}).status_code == 401
    genuine = authenticator.get(options)
    assert _send(client, "/login/passkey", token, {"credential": genuine}).status_code == 401

    other = app.test_client()  # another browser, with a challenge of its own
    password_step(other, user)
    other_token = csrf_from(other.get("/login/mfa").get_data(as_text=True))
    _send(other, "/login/passkey/options", other_token)
    replay = _send(other, "/login/passkey", other_token, {"credential": genuine})
    assert replay.status_code == 401
    reasons = [row.details["reason"] for row in audit_rows(app, "auth.passkey_refused")]
    assert reasons == ["not_verified", "challenge_expired", "not_verified"]
    assert client.get("/backoffice/").headers["Location"] == "/login/mfa"


def test_another_persons_passkey_is_not_a_second_factor(app, agent_with_passkey, make_staff):
    _, _, someone_elses = agent_with_passkey
    other = make_staff("agent")
    update_staff(app, other.id, role="supervisor")
    client = app.test_client()
    password_step(client, other)
    assert client.get("/login/mfa").headers["Location"] == "/account/mfa/setup"
    token = csrf_from(client.get("/account/mfa/setup").get_data(as_text=True))
    options = _send(client, "/login/passkey/options", token).get_json()
    credential = someone_elses.get(options)
    refused = _send(client, "/login/passkey", token, {"credential": credential})
    assert refused.status_code == 401
    assert audit_rows(app, "auth.passkey_refused")[-1].details == {"reason": "unknown_passkey"}


def test_passwordless_sign_in_is_off_by_default(app, agent_with_passkey):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert "Sign in with a passkey" not in client.get("/login").get_data(as_text=True)
    assert _send(client, "/login/passkey-sign-in/options", token).status_code == 404
    assert _send(client, "/login/passkey-sign-in", token, {"credential": {}}).status_code == 404


@pytest.fixture
def passwordless_app(app_factory):
    return app_factory(PASSKEY_SIGN_IN=True)


def test_passwordless_sign_in_where_the_setting_allows_it(passwordless_app, make_staff):
    """Proves: with PASSKEY_SIGN_IN on, a discoverable passkey with user verification signs a
    back-office user in without a password, as a full (two-factor) sign-in; audited."""
    app = passwordless_app
    from tests.support.staff import create_staff_account

    user = create_staff_account(app, "backoffice", "officer9")
    client = app.test_client()
    login(client, user)
    authenticator = SoftAuthenticator(ORIGIN)
    assert register(client, authenticator).status_code == 200

    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    assert "Sign in with a passkey" in page
    token = csrf_from(page)
    options = _send(browser, "/login/passkey-sign-in/options", token).get_json()
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == []
    answer = _send(
        browser, "/login/passkey-sign-in", token, {"credential": authenticator.get(options)}
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"redirect": "/backoffice/"}
    assert browser.get("/backoffice/").status_code == 200
    assert audit_rows(app, "auth.login")[-1].details == {"factors": "passkey"}
    assert audit_rows(app, "auth.passkey_used")[-1].details["purpose"] == "sign_in"


def test_single_sign_on_only_mode_turns_passwordless_sign_in_off(passwordless_app):
    app = passwordless_app
    # Set on the built app: SSO-only mode needs providers to start, and only the switch matters.
    app.config["SSO_ONLY"] = True
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with a passkey" not in page
    token = csrf_from(page)
    assert _send(client, "/login/passkey-sign-in/options", token).status_code == 404


def test_passwordless_sign_in_needs_user_verification(passwordless_app):
    app = passwordless_app
    from tests.support.staff import create_staff_account

    user = create_staff_account(app, "agent", "agent9")
    client = app.test_client()
    login(client, user)
    authenticator = SoftAuthenticator(ORIGIN)
    assert register(client, authenticator).status_code == 200
    authenticator.user_verified = False  # a touch, but no PIN or biometric

    browser = app.test_client()
    token = csrf_from(browser.get("/login").get_data(as_text=True))
    options = _send(browser, "/login/passkey-sign-in/options", token).get_json()
    refused = _send(
        browser, "/login/passkey-sign-in", token, {"credential": authenticator.get(options)}
    )
    assert refused.status_code == 401
    assert audit_rows(app, "auth.passkey_refused")[-1].details == {"reason": "not_verified"}
    assert browser.get("/agent/").status_code == 302


def test_a_disabled_account_cannot_sign_in_with_its_passkey(passwordless_app):
    app = passwordless_app
    from tests.support.staff import create_staff_account

    user = create_staff_account(app, "agent", "agent8")
    client = app.test_client()
    login(client, user)
    authenticator = SoftAuthenticator(ORIGIN)
    assert register(client, authenticator).status_code == 200
    update_staff(app, user.id, is_active=False)
    browser = app.test_client()
    token = csrf_from(browser.get("/login").get_data(as_text=True))
    options = _send(browser, "/login/passkey-sign-in/options", token).get_json()
    refused = _send(
        browser, "/login/passkey-sign-in", token, {"credential": authenticator.get(options)}
    )
    assert refused.status_code == 401
    assert browser.get("/agent/").status_code == 302


def test_rename_a_passkey(app, agent_with_passkey):
    client, user, _ = agent_with_passkey
    (passkey,) = passkeys_of(app, user.id)
    response = post_form(
        client,
        f"/account/passkeys/{passkey.id}/rename",
        {"name": "  Desk   laptop "},
        page="/account",
    )
    assert response.status_code == 303
    assert passkeys_of(app, user.id)[0].name == "Desk laptop"
    assert audit_rows(app, "auth.passkey_renamed")[0].details == {"passkey": passkey.id}
    refused = post_form(
        client,
        f"/account/passkeys/{passkey.id}/rename",
        {"name": "4111 1111 1111 1111"},
        page="/account",
    )
    assert refused.status_code == 303
    assert passkeys_of(app, user.id)[0].name == "Desk laptop"


def test_removing_a_passkey_needs_the_password(app, agent_with_passkey):
    """Proves: removal asks for the password; a wrong one is refused and counted; the right one
    removes the passkey, which then no longer signs in; both audited."""
    client, user, authenticator = agent_with_passkey
    (passkey,) = passkeys_of(app, user.id)
    url = f"/account/passkeys/{passkey.id}/remove"
    assert "Remove the passkey" in client.get(url).get_data(as_text=True)
    wrong = post_form(client, url, {"password": "not my password at all"})
    assert wrong.status_code == 401
    assert audit_rows(app, "auth.login_failed")[-1].details["factor"] == "reauth_password"
    assert len(passkeys_of(app, user.id)) == 1
    removed = post_form(client, url, {"password": DEFAULT_PASSWORD})
    assert removed.status_code == 303
    assert passkeys_of(app, user.id) == []
    assert audit_rows(app, "auth.passkey_removed")[0].details == {
        "passkey": passkey.id,
        "remaining": 0,
    }
    assert staff_row(app, user.id).failed_login_count == 1


def test_with_the_app_on_removing_a_passkey_needs_password_and_code(app, make_staff):
    """Proves: an account with the authenticator app re-authenticates (password and a fresh
    code) to remove a passkey; a wrong code is refused and counted."""
    from tests.support.auth import wrong_totp
    from tests.support.web import current_totp

    user = make_staff("backoffice", mfa=True)
    client = app.test_client()
    login(client, user)
    assert register(client, SoftAuthenticator(ORIGIN)).status_code == 200
    (passkey,) = passkeys_of(app, user.id)
    url = f"/account/passkeys/{passkey.id}/remove"
    assert "Code from your authenticator app" in client.get(url).get_data(as_text=True)
    wrong = post_form(client, url, {"password": DEFAULT_PASSWORD, "code": wrong_totp(user)})
    assert wrong.status_code == 401
    assert audit_rows(app, "auth.login_failed")[-1].details["factor"] == "reauth_totp"
    no_code = post_form(client, url, {"password": DEFAULT_PASSWORD})
    assert no_code.status_code == 401
    assert len(passkeys_of(app, user.id)) == 1
    done = post_form(
        client, url, {"password": DEFAULT_PASSWORD, "code": current_totp(user, offset_steps=1)}
    )
    assert done.status_code == 303
    assert passkeys_of(app, user.id) == []
    assert audit_rows(app, "auth.reauthenticated")[0].target_id == str(user.id)


def test_nobody_renames_or_removes_someone_elses_passkey(app, agent_with_passkey, make_staff):
    _, owner, _ = agent_with_passkey
    (passkey,) = passkeys_of(app, owner.id)
    other = app.test_client()
    login(other, make_staff("agent"))
    assert other.get(f"/account/passkeys/{passkey.id}/remove").status_code == 404
    rename = post_form(
        other, f"/account/passkeys/{passkey.id}/rename", {"name": "Mine"}, page="/account"
    )
    assert rename.status_code == 404
    assert passkeys_of(app, owner.id)[0].name == "Work laptop"


def test_resetting_the_second_factor_removes_passkeys(app, agent_with_passkey, make_staff):
    from tests.support.backoffice_write import reauth

    _, user, _ = agent_with_passkey
    admin = make_staff("admin", mfa=True)
    client = app.test_client()
    login(client, admin)
    assert reauth(client, admin).status_code == 303
    page = f"/backoffice/staff/{user.id}"
    assert "1 passkey" in client.get(page).get_data(as_text=True)
    listed = re.search(
        rf">{user.username}</a></td>.*?</tr>",
        client.get("/backoffice/staff").get_data(as_text=True),
        re.S,
    )
    assert "<td>On</td>" in listed.group(0)  # a passkey is two-step verification
    post_form(client, f"{page}/reset-mfa", {}, page=page)
    assert passkeys_of(app, user.id) == []
    assert audit_rows(app, "staff.mfa_reset")[0].details["passkeys_removed"] == 1


def _age_sign_in(app, user_id, minutes, *, reauthenticated_minutes=None):
    """Move the user's sessions' proof of identity ``minutes`` into the past."""
    from datetime import timedelta

    from sqlalchemy import update

    from portal.extensions import db
    from portal.models.staff import StaffSession
    from portal.models.types import utcnow

    now = utcnow()
    values = {"authenticated_at": now - timedelta(minutes=minutes)}
    if reauthenticated_minutes is not None:
        values["reauthenticated_at"] = now - timedelta(minutes=reauthenticated_minutes)
    with app.app_context():
        db.session.execute(
            update(StaffSession).where(StaffSession.user_id == user_id).values(values)
        )
        db.session.commit()


def test_a_passkey_is_added_only_soon_after_signing_in(app, make_staff):
    """Proves: a screen left signed in cannot gain a lasting way in: more than 10 minutes after
    the sign-in, adding a passkey is refused (both steps) and the page says what to do; a
    recent confirmation that it is them counts as a sign-in."""
    from portal.staff.passkeys import ADD_NEEDS_RECENT_SIGN_IN

    client = app.test_client()
    user = make_staff("agent")
    login(client, user)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    options = _send(client, "/account/passkeys/options", token).get_json()  # fresh: allowed
    _age_sign_in(app, user.id, 11)

    credential = SoftAuthenticator(ORIGIN).create(options)
    late = _send(client, "/account/passkeys", token, {"name": "Late", "credential": credential})
    assert (late.status_code, late.get_json()) == (403, {"error": ADD_NEEDS_RECENT_SIGN_IN})
    refused = _send(client, "/account/passkeys/options", token)
    assert refused.status_code == 403 and "challenge" not in refused.get_json()
    page = client.get("/account").get_data(as_text=True)
    assert "within 10 minutes of signing in" in page and 'data-passkey="register"' not in page
    assert passkeys_of(app, user.id) == []

    _age_sign_in(app, user.id, 60, reauthenticated_minutes=2)
    assert register(client, SoftAuthenticator(ORIGIN), "Phone").status_code == 200
    assert [p.name for p in passkeys_of(app, user.id)] == ["Phone"]


def test_an_account_linked_to_a_provider_never_signs_in_with_a_passkey_alone(passwordless_app):
    """Proves: an account that signs in through an identity provider cannot skip it with a
    passkey (the provider re-applies its groups at every sign-in; a leaver would keep the role
    here); refused, audited, no session."""
    app = passwordless_app
    from portal.extensions import db
    from portal.models.single_sign_on import SsoIdentity
    from tests.support.staff import create_staff_account

    user = create_staff_account(app, "backoffice", "linked9")
    client = app.test_client()
    login(client, user)
    authenticator = SoftAuthenticator(ORIGIN)
    assert register(client, authenticator).status_code == 200
    with app.app_context():
        db.session.add(
            SsoIdentity(
                user_id=user.id, provider="entra", issuer="https://login.example", subject="s9"
            )
        )
        db.session.commit()

    browser = app.test_client()
    token = csrf_from(browser.get("/login").get_data(as_text=True))
    options = _send(browser, "/login/passkey-sign-in/options", token).get_json()
    answer = _send(
        browser, "/login/passkey-sign-in", token, {"credential": authenticator.get(options)}
    )
    assert answer.status_code == 401
    assert "signs in through your organisation's account" in answer.get_json()["error"]
    assert browser.get("/backoffice/").status_code in (302, 303)
    assert audit_rows(app, "auth.login_failed")[-1].details == {
        "factor": "passkey",
        "reason": "signs_in_through_provider",
    }
