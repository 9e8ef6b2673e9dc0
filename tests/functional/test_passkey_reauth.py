"""Confirming a sensitive action with a passkey, through the real views, answered by the
software authenticator (real keys and signatures, real ``webauthn`` checks): password and
passkey in the back office, the passkey as Postern's own factor after the identity provider,
removing a passkey from an account without a Postern password, and the words that say what
will be asked. The browser journey (a refund) is tests/browser/test_passkey_reauth.py."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from tests.support.auth import audit_rows, update_staff
from tests.support.openid_provider import running_provider, sign_in_with_client, through_provider
from tests.support.passkey_authenticator import SoftAuthenticator, b64url
from tests.support.passkey_ceremonies import ORIGIN, passkeys_of, register, second_factor
from tests.support.passkey_ceremonies import send as _send
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, login, post_form

BACK_TO = "/backoffice/audit"
PROVIDER = "testidp"


def _reauthenticated_at(app, user_id: int):
    """When any open session of ``user_id`` was last re-authenticated (None: never)."""
    from sqlalchemy import func

    from portal.extensions import db
    from portal.models.staff import StaffSession

    with app.app_context():
        return db.session.execute(
            select(func.max(StaffSession.reauthenticated_at)).where(
                StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)
            )
        ).scalar_one()


def _challenges_left(app) -> int:
    from portal.extensions import db
    from portal.models.passkey import PasskeyChallenge

    with app.app_context():
        return len(db.session.execute(select(PasskeyChallenge.id)).all())


def _password_step(client, user):
    answer = post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert answer.status_code == 302


def _passkey_officer(app, make_staff, **staff):
    """(client, user, authenticator): a back-office account whose only second factor is a
    passkey, signed in with its password and that passkey."""
    user = make_staff("agent", **staff)
    setup = app.test_client()
    login(setup, user)
    authenticator = SoftAuthenticator(ORIGIN)
    assert register(setup, authenticator).status_code == 200
    update_staff(app, user.id, role="backoffice")
    client = app.test_client()
    _password_step(client, user)
    assert second_factor(client, authenticator)[0].status_code == 200
    return client, user, authenticator


def _options(client, back_to=BACK_TO):
    page = client.get(f"/backoffice/reauth?next={back_to}").get_data(as_text=True)
    token = csrf_from(page)
    return token, _send(client, "/backoffice/reauth/passkey/options", token).get_json()


def _confirm(client, token, credential, *, password=DEFAULT_PASSWORD, back_to=BACK_TO):
    body = {"password": password, "credential": credential, "next": back_to}
    return _send(client, "/backoffice/reauth/passkey", token, body)


# --- the back office: password and passkey ---------------------------------------------------


def test_an_account_with_only_a_passkey_confirms_with_password_and_passkey(app, make_staff):
    """Proves: the page offers password and passkey (no code field, no "no second factor"),
    the options ask for user verification and name only this account's passkeys, and a good
    answer stamps the session, audited as password+passkey, and returns to the page."""
    client, user, authenticator = _passkey_officer(app, make_staff)
    page = client.get(f"/backoffice/reauth?next={BACK_TO}").get_data(as_text=True)
    assert 'data-passkey="confirm"' in page and "Confirm with a passkey" in page
    assert 'name="code"' not in page and "cannot confirm sensitive actions" not in page
    assert "need your password and a passkey." in " ".join(page.split())
    assert _reauthenticated_at(app, user.id) is None

    token, options = _options(client)
    assert options["userVerification"] == "required"
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(authenticator.credential_id)]
    answer = _confirm(client, token, authenticator.get(options))
    assert answer.status_code == 200 and answer.get_json() == {"redirect": BACK_TO}
    assert _reauthenticated_at(app, user.id) is not None
    [row] = audit_rows(app, "auth.reauthenticated")
    assert row.details["factor"] == "password+passkey" and row.target_id == str(user.id)
    assert audit_rows(app, "auth.passkey_used")[-1].details["purpose"] == "reauth"
    assert passkeys_of(app, user.id)[0].sign_count == authenticator.counter == 2


def test_a_wrong_password_is_refused_counted_and_spends_the_challenge(app, make_staff):
    client, user, authenticator = _passkey_officer(app, make_staff)
    token, options = _options(client)
    credential = authenticator.get(options)
    wrong = _confirm(client, token, credential, password="not-the-password")
    assert wrong.status_code == 401 and "not accepted" in wrong.get_json()["error"]
    assert audit_rows(app, "auth.login_failed")[-1].details["factor"] == "reauth_password"
    assert _challenges_left(app) == 0  # spent on the server, not only dropped from the cookie
    # The same signed answer with the right password: its challenge is gone.
    again = _confirm(client, token, credential)
    assert again.status_code == 401
    assert audit_rows(app, "auth.passkey_refused")[-1].details == {"reason": "challenge_expired"}
    assert _reauthenticated_at(app, user.id) is None
    assert not audit_rows(app, "auth.reauthenticated")


def test_another_persons_passkey_is_refused(app, make_staff):
    client, user, _mine = _passkey_officer(app, make_staff)
    _other_client, other, theirs = _passkey_officer(app, make_staff)
    token, options = _options(client)
    refused = _confirm(client, token, theirs.get(options))
    assert refused.status_code == 401
    row = audit_rows(app, "auth.passkey_refused")[-1]
    assert row.details == {"reason": "unknown_passkey"} and row.target_id == str(user.id)
    assert audit_rows(app, "auth.login_failed")[-1].details["factor"] == "reauth_passkey"
    assert _reauthenticated_at(app, user.id) is None


def test_a_replayed_answer_is_refused(app, make_staff):
    """Proves: an answer is accepted once; posted again (even with a fresh challenge in the
    session) it is refused, and the session is stamped only by the first."""
    client, user, authenticator = _passkey_officer(app, make_staff)
    token, options = _options(client)
    credential = authenticator.get(options)
    assert _confirm(client, token, credential).status_code == 200
    assert _confirm(client, token, credential).status_code == 401  # no challenge in the session
    _options(client)  # a new challenge: the old answer signs the old one
    assert _confirm(client, token, credential).status_code == 401
    assert [r.details["reason"] for r in audit_rows(app, "auth.passkey_refused")] == [
        "challenge_expired",
        "not_verified",
    ]
    assert len(audit_rows(app, "auth.reauthenticated")) == 1


def test_a_sign_counter_going_backwards_is_refused(app, make_staff):
    client, user, authenticator = _passkey_officer(app, make_staff)
    token, options = _options(client)
    refused = _confirm(client, token, authenticator.get(options, counter=1))  # stored: 1
    assert refused.status_code == 401
    assert audit_rows(app, "auth.passkey_refused")[-1].details == {
        "reason": "counter_went_backwards"
    }
    assert _reauthenticated_at(app, user.id) is None
    assert passkeys_of(app, user.id)[0].sign_count == 1


def test_a_passkey_without_user_verification_does_not_confirm(app, make_staff):
    client, user, authenticator = _passkey_officer(app, make_staff)
    authenticator.user_verified = False
    token, options = _options(client)
    assert _confirm(client, token, authenticator.get(options)).status_code == 401
    assert audit_rows(app, "auth.passkey_refused")[-1].details == {"reason": "not_verified"}
    assert _reauthenticated_at(app, user.id) is None


def test_with_an_app_and_a_passkey_both_ways_are_offered(app, make_staff):
    user = make_staff("backoffice", mfa=True)
    client = app.test_client()
    login(client, user)
    assert register(client, SoftAuthenticator(ORIGIN)).status_code == 200
    page = client.get("/backoffice/reauth").get_data(as_text=True)
    assert 'data-passkey="confirm"' in page and 'name="code"' in page
    assert "Or use a code from your authenticator app" in page


def test_an_account_without_a_passkey_gets_no_passkey_options(app, make_staff):
    user = make_staff("backoffice", mfa=True)
    client = app.test_client()
    login(client, user)
    page = client.get("/backoffice/reauth").get_data(as_text=True)
    assert 'data-passkey="confirm"' not in page
    refused = _send(client, "/backoffice/reauth/passkey/options", csrf_from(page))
    assert refused.status_code == 404


# --- a kept form, and the words ------------------------------------------------------------


@pytest.fixture
def bo_app(app_factory, stripe_sandbox):
    from tests.support.payments import sandbox_settings

    return app_factory(**sandbox_settings(stripe_sandbox))


def test_a_refund_form_comes_back_filled_in_after_a_passkey(bo_app, stripe_sandbox, make_staff):
    from tests.support.backoffice_write import paid_request, refund_form, refund_url

    agent = make_staff("agent")
    client, user, authenticator = _passkey_officer(bo_app, make_staff)
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    page = client.get(refund_url(public_id)).get_data(as_text=True)
    assert "asked for your password and a passkey before the refund is sent" in page
    assert "password and a code" not in page
    sent = {"scope": "partial", "amount": "5.00", "reason_code": "duplicate", "note": "Twice"}
    asked = client.post(refund_url(public_id), data={**sent, **refund_form(client, public_id)})
    back_to = refund_url(public_id)
    assert asked.headers["Location"].startswith("/backoffice/reauth?next=")

    token, options = _options(client, back_to)
    answer = _confirm(client, token, authenticator.get(options), back_to=back_to)
    assert answer.get_json() == {"redirect": back_to}
    restored = client.get(back_to).get_data(as_text=True)
    assert "What you entered is filled in again" in restored
    assert 'value="5.00"' in restored and "Twice" in restored


# --- after the identity provider -------------------------------------------------------------


@pytest.fixture
def idp(tmp_path):
    with running_provider(tmp_path / "idp") as provider:
        provider.register_portal("http://localhost", PROVIDER)
        provider.set_users(
            {
                "carol": {
                    "sub": "sub-carol",
                    "password": "carol-idp-password",
                    "email": "carol@example.test",
                    "name": "Carol Example",
                    "groups": ["postern-backoffice"],
                    "amr": ["pwd", "mfa"],
                }
            }
        )
        yield provider


@pytest.fixture
def sso_app(app_factory, idp):
    return app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])


def _carol(app):
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        user = db.session.execute(
            select(StaffUser).where(StaffUser.username == "carol")
        ).scalar_one()
        db.session.expunge(user)
        return user


def _sso_with_passkey(app, idp):
    """Carol, made by single sign-on (no Postern password), signed in, with one passkey."""
    client = app.test_client()
    assert sign_in_with_client(client, idp, "carol").headers["Location"] == "/backoffice/"
    authenticator = SoftAuthenticator(ORIGIN)
    assert register(client, authenticator).status_code == 200
    return client, _carol(app), authenticator


def _step_up(client, idp, back_to=BACK_TO):
    page = client.get(f"/backoffice/reauth?next={back_to}").get_data(as_text=True)
    started = client.post(
        f"/backoffice/reauth/sso/{PROVIDER}?next={back_to}", data={"csrf_token": csrf_from(page)}
    )
    return client.get(through_provider(idp, started.headers["Location"], "carol"))


def test_after_the_provider_a_passkey_is_postern_s_own_factor(sso_app, idp):
    """Proves: when the provider proved no second factor, an account whose only local factor
    is a passkey is offered it (not told it has none), and the session is stamped with factor
    sso:<name>+passkey; the provider's confirmation is then used up."""
    client, carol, authenticator = _sso_with_passkey(sso_app, idp)
    idp.update_user("carol", amr=["pwd"])
    answer = _step_up(client, idp)
    assert answer.headers["Location"] == "/backoffice/reauth/sso/code"
    page = client.get("/backoffice/reauth/sso/code").get_data(as_text=True)
    assert 'data-passkey="confirm"' in page and 'name="code"' not in page
    assert "cannot confirm sensitive actions" not in page
    token = csrf_from(page)
    options = _send(client, "/backoffice/reauth/sso/passkey/options", token).get_json()
    assert options["userVerification"] == "required"
    done = _send(
        client, "/backoffice/reauth/sso/passkey", token, {"credential": authenticator.get(options)}
    )
    assert done.status_code == 200 and done.get_json() == {"redirect": BACK_TO}
    assert _reauthenticated_at(sso_app, carol.id) is not None
    assert audit_rows(sso_app, "auth.reauthenticated")[-1].details["factor"] == (
        f"sso:{PROVIDER}+passkey"
    )
    assert client.get("/backoffice/reauth/sso/code").headers["Location"] == "/backoffice/reauth"


def test_after_the_provider_a_refused_passkey_stamps_nothing(sso_app, idp):
    client, carol, authenticator = _sso_with_passkey(sso_app, idp)
    idp.update_user("carol", amr=["pwd"])
    _step_up(client, idp)
    token = csrf_from(client.get("/backoffice/reauth/sso/code").get_data(as_text=True))
    options = _send(client, "/backoffice/reauth/sso/passkey/options", token).get_json()
    stranger = SoftAuthenticator(ORIGIN)
    refused = _send(
        client, "/backoffice/reauth/sso/passkey", token, {"credential": stranger.get(options)}
    )
    assert refused.status_code == 401
    assert _reauthenticated_at(sso_app, carol.id) is None


def test_the_passkey_after_the_provider_needs_the_provider_first(sso_app, idp):
    client, carol, authenticator = _sso_with_passkey(sso_app, idp)
    token = csrf_from(client.get("/backoffice/reauth").get_data(as_text=True))
    answer = _send(client, "/backoffice/reauth/sso/passkey/options", token)
    assert answer.status_code == 409 and answer.get_json()["redirect"].startswith(
        "/backoffice/reauth"
    )
    # Nor the back office's password-and-passkey path: the provider alone decides here.
    assert _send(client, "/backoffice/reauth/passkey/options", token).status_code == 404


def test_the_data_page_words_fit_each_account(sso_app, idp, make_staff):
    """Proves: the data page announces what confirming will ask of this person: their
    organisation's sign-in for a provider account, password and passkey for a passkey one."""
    from tests.support.backoffice_write import data_request

    public_id = data_request(sso_app, make_staff("agent").id)
    url = f"/backoffice/data-requests/{public_id}"
    client, _carol_user, _authenticator = _sso_with_passkey(sso_app, idp)
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert "asked for a new sign-in to your organisation's account." in page
    assert "password and a code" not in page
    officer, _user, _key = _passkey_officer(sso_app, make_staff)
    page = officer.get(url).get_data(as_text=True)
    assert "You will be asked for your password and a passkey." in page


# --- removing a passkey without a Postern password ---------------------------------------------


def test_an_sso_account_removes_a_passkey_after_confirming_with_one(sso_app, idp):
    """Proves: with no Postern password, the removal page asks for no password; a passkey
    (user verified; here the other one) confirms it, and the removal is audited."""
    client, carol, first = _sso_with_passkey(sso_app, idp)
    second = SoftAuthenticator(ORIGIN)
    assert register(client, second, "Phone").status_code == 200
    kept, going = passkeys_of(sso_app, carol.id)
    url = f"/account/passkeys/{going.id}/remove"
    page = client.get(url).get_data(as_text=True)
    assert 'name="password"' not in page and 'data-passkey="confirm"' in page
    assert "Confirm with your organisation's account" in page
    token = csrf_from(page)
    # A form post without a confirmation removes nothing.
    assert client.post(url, data={"csrf_token": token}).status_code == 200
    options = _send(client, f"{url}/options", token).get_json()
    assert options["userVerification"] == "required"
    done = _send(client, f"{url}/passkey", token, {"credential": first.get(options)})
    assert done.status_code == 200 and done.get_json()["redirect"] == "/account#passkeys"
    assert [p.id for p in passkeys_of(sso_app, carol.id)] == [kept.id]
    assert audit_rows(sso_app, "auth.passkey_removed")[-1].details["passkey"] == going.id


def test_an_sso_account_removes_a_passkey_after_the_provider_step_up(sso_app, idp):
    client, carol, _authenticator = _sso_with_passkey(sso_app, idp)
    (passkey,) = passkeys_of(sso_app, carol.id)
    url = f"/account/passkeys/{passkey.id}/remove"
    answer = _step_up(client, idp, back_to=url)
    assert answer.headers["Location"] == url
    page = client.get(url).get_data(as_text=True)
    assert "You have confirmed it is you" in page
    removed = client.post(url, data={"csrf_token": csrf_from(page)})
    assert removed.status_code == 303 and removed.headers["Location"] == "/account#passkeys"
    assert passkeys_of(sso_app, carol.id) == []


def test_a_refused_passkey_removes_nothing(sso_app, idp):
    client, carol, _authenticator = _sso_with_passkey(sso_app, idp)
    (passkey,) = passkeys_of(sso_app, carol.id)
    url = f"/account/passkeys/{passkey.id}/remove"
    token = csrf_from(client.get(url).get_data(as_text=True))
    options = _send(client, f"{url}/options", token).get_json()
    stranger = SoftAuthenticator(ORIGIN)
    refused = _send(client, f"{url}/passkey", token, {"credential": stranger.get(options)})
    assert refused.status_code == 401
    assert len(passkeys_of(sso_app, carol.id)) == 1
    assert not audit_rows(sso_app, "auth.passkey_removed")


def test_a_password_account_keeps_the_password_path(app, make_staff):
    client, user, _authenticator = _passkey_officer(app, make_staff)
    (passkey,) = passkeys_of(app, user.id)
    url = f"/account/passkeys/{passkey.id}/remove"
    assert 'name="password"' in client.get(url).get_data(as_text=True)
    token = csrf_from(client.get(url).get_data(as_text=True))
    assert _send(client, f"{url}/options", token).status_code == 404
