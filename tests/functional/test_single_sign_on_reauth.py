"""Re-authentication through the identity provider (portal/sso/reauth.py), through the app's
pages and a real OpenID Provider (tests/oidc), without a browser: ``prompt=login`` and
``max_age=0`` asked, a stale ``auth_time`` refused, someone else at the provider refused, a
group taken away, Postern's own code when the provider proves no second factor, SSO-only mode.

The browser journey (a refund after confirming at the provider) is
tests/browser/test_single_sign_on_reauth.py.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.support.auth import audit_rows
from tests.support.openid_provider import running_provider, sign_in_with_client, through_provider
from tests.support.web import csrf_from, current_totp, post_form

PROVIDER = "testidp"
BACK_TO = "/backoffice/audit"


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
                },
                "dave": {
                    "sub": "sub-dave",
                    "password": "dave-idp-password",
                    "email": "dave@example.test",
                    "name": "Dave Example",
                    "groups": ["postern-backoffice"],
                    "amr": ["pwd", "mfa"],
                },
            }
        )
        yield provider


@pytest.fixture
def app(app_factory, idp):
    return app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])


def _reauthenticated_at(app, username: str):
    from portal.extensions import db
    from portal.models.staff import StaffSession, StaffUser

    with app.app_context():
        return db.session.execute(
            select(StaffSession.reauthenticated_at)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(StaffUser.username == username, StaffSession.ended_at.is_(None))
        ).scalar_one_or_none()


def _signed_in(app, idp, username="carol"):
    client = app.test_client()
    assert sign_in_with_client(client, idp, username).headers["Location"] == "/backoffice/"
    return client


def _step_up(client, idp, username="carol") -> tuple[str, object]:
    """Press "Confirm with your organisation's account"; returns the provider's address and
    the callback's answer after signing in there as ``username``."""
    page = client.get(f"/backoffice/reauth?next={BACK_TO}").get_data(as_text=True)
    assert "Confirm with your organisation's account" in page
    started = client.post(
        f"/backoffice/reauth/sso/{PROVIDER}?next={BACK_TO}", data={"csrf_token": csrf_from(page)}
    )
    assert started.status_code == 303
    location = started.headers["Location"]
    return location, client.get(through_provider(idp, location, username))


def test_an_sso_account_confirms_at_the_provider_and_returns_to_its_page(app, idp):
    client = _signed_in(app, idp)
    # A just-in-time account has no Postern password: the page offers the provider only.
    page = client.get(f"/backoffice/reauth?next={BACK_TO}").get_data(as_text=True)
    assert 'name="password"' not in page
    assert _reauthenticated_at(app, "carol") is None

    location, answer = _step_up(client, idp)
    asked = parse_qs(urlsplit(location).query)
    assert asked["prompt"] == ["login"] and asked["max_age"] == ["0"]
    assert asked["code_challenge_method"] == ["S256"] and asked["nonce"] and asked["state"]
    assert answer.status_code == 303 and answer.headers["Location"] == BACK_TO
    assert _reauthenticated_at(app, "carol") is not None
    [row] = audit_rows(app, "auth.reauthenticated")
    assert row.details["factor"] == f"sso:{PROVIDER}+provider_mfa"


def test_a_stale_auth_time_is_refused(app, idp):
    """The provider answers with a sign-in ten minutes old, as one that ignored prompt=login
    would: nothing is stamped."""
    client = _signed_in(app, idp)
    idp.update_user("carol", auth_age=600)
    _location, answer = _step_up(client, idp)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/backoffice/reauth?next=")
    assert _reauthenticated_at(app, "carol") is None
    assert audit_rows(app, "sso.reauth_refused")[-1].details == {
        "provider": PROVIDER,
        "reason": "not_fresh",
    }
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "did not ask for your password again" in page
    assert not audit_rows(app, "auth.reauthenticated")


def test_someone_else_signing_in_at_the_provider_proves_nothing(app, idp):
    client = _signed_in(app, idp, "carol")
    _signed_in(app, idp, "dave")  # Dave has an account too
    _location, answer = _step_up(client, idp, "dave")
    assert answer.headers["Location"].startswith("/backoffice/reauth?next=")
    assert _reauthenticated_at(app, "carol") is None
    assert audit_rows(app, "sso.reauth_refused")[-1].details["reason"] == "wrong_person"


def test_a_group_taken_away_refuses_and_ends_the_sessions(app, idp):
    client = _signed_in(app, idp)
    idp.update_user("carol", groups=["everyone"])
    _location, answer = _step_up(client, idp)
    assert answer.headers["Location"] == "/login"
    assert client.get("/backoffice/").status_code == 302  # signed out
    assert audit_rows(app, "sso.reauth_refused")[-1].details["reason"] == "no_mapped_group"
    assert audit_rows(app, "sso.access_removed")[-1].details["sessions_ended"] == 1


def test_a_role_changed_at_the_provider_is_not_confirmed_until_the_next_sign_in(app, idp):
    client = _signed_in(app, idp)
    idp.update_user("carol", groups=["postern-auditors"])
    _location, answer = _step_up(client, idp)
    assert answer.headers["Location"].startswith("/backoffice/reauth?next=")
    assert _reauthenticated_at(app, "carol") is None
    assert audit_rows(app, "sso.reauth_refused")[-1].details["reason"] == "role_changed"


def test_without_mfa_from_the_provider_postern_asks_for_its_own_code(app_factory, idp, make_staff):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER)])
    user = make_staff("backoffice", username="carol.b", mfa=True)
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        db.session.get(StaffUser, user.id).email = "carol@example.test"
        db.session.commit()
    idp.update_user("carol", amr=["pwd"])
    client = app.test_client()
    assert sign_in_with_client(client, idp, "carol").headers["Location"] == "/login/mfa"
    assert post_form(client, "/login/mfa", {"code": current_totp(user)}).status_code == 302

    _location, answer = _step_up(client, idp)
    assert answer.headers["Location"] == "/backoffice/reauth/sso/code"
    assert _reauthenticated_at(app, "carol.b") is None
    wrong = post_form(client, "/backoffice/reauth/sso/code", {"code": "000000"})
    assert wrong.status_code == 401
    assert _reauthenticated_at(app, "carol.b") is None
    right = post_form(
        client, "/backoffice/reauth/sso/code", {"code": current_totp(user, offset_steps=1)}
    )
    assert right.status_code == 303 and right.headers["Location"] == BACK_TO
    assert _reauthenticated_at(app, "carol.b") is not None
    assert audit_rows(app, "auth.reauthenticated")[-1].details["factor"] == f"sso:{PROVIDER}+totp"
    # The provider's confirmation is used once.
    assert client.get("/backoffice/reauth/sso/code").headers["Location"] == "/backoffice/reauth"


def test_the_code_page_needs_the_provider_first(app, idp):
    client = _signed_in(app, idp)
    answer = post_form(
        client, "/backoffice/reauth/sso/code", {"code": "123456"}, page="/backoffice/reauth"
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/backoffice/reauth"
    assert _reauthenticated_at(app, "carol") is None


def test_in_sso_only_mode_a_linked_account_confirms_at_the_provider_only(
    app_factory, idp, make_staff
):
    """Its Postern password still exists, but SSO-only mode refuses it at sign-in, so it is
    not taken here either: a leaver disabled at the provider cannot use it."""
    app = app_factory(
        SSO_PROVIDERS=[idp.provider_setting(PROVIDER)],
        SSO_ONLY=True,
        SSO_BREAK_GLASS_USERNAME="rescue-admin",
    )
    user = make_staff("backoffice", username="carol.b", mfa=True)
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        db.session.get(StaffUser, user.id).email = "carol@example.test"
        db.session.commit()
    client = app.test_client()
    assert sign_in_with_client(client, idp, "carol").headers["Location"] == "/backoffice/"
    page = client.get("/backoffice/reauth").get_data(as_text=True)
    assert 'name="password"' not in page
    answer = post_form(
        client,
        "/backoffice/reauth",
        {"password": "whatever-the-password", "code": current_totp(user, offset_steps=1)},
        page="/backoffice/reauth?next=/backoffice/",
    )
    assert answer.status_code == 200  # the page again: the password was not even checked
    assert _reauthenticated_at(app, "carol.b") is None


def test_a_provider_not_linked_to_the_account_answers_404(app, idp):
    client = _signed_in(app, idp)
    token = csrf_from(client.get("/backoffice/reauth").get_data(as_text=True))
    assert client.post("/backoffice/reauth/sso/nobody", data={"csrf_token": token}).status_code == (
        404
    )
    assert client.post(f"/backoffice/reauth/sso/{PROVIDER}").status_code == 400  # no CSRF token


def test_the_way_back_stays_on_this_site(app, idp):
    client = _signed_in(app, idp)
    page = client.get("/backoffice/reauth").get_data(as_text=True)
    started = client.post(
        f"/backoffice/reauth/sso/{PROVIDER}?next=//attacker.example.test/",
        data={"csrf_token": csrf_from(page)},
    )
    answer = client.get(through_provider(idp, started.headers["Location"], "carol"))
    assert answer.headers["Location"] == "/backoffice/"


def test_a_session_ended_while_at_the_provider_is_not_re_authenticated(app, idp):
    client = _signed_in(app, idp)
    page = client.get("/backoffice/reauth").get_data(as_text=True)
    started = client.post(
        f"/backoffice/reauth/sso/{PROVIDER}", data={"csrf_token": csrf_from(page)}
    )
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.security import sessions

    with app.app_context():
        carol = db.session.execute(
            select(StaffUser).where(StaffUser.username == "carol")
        ).scalar_one()
        sessions.end_user_sessions(carol.id, "ended_by_admin")
        db.session.commit()
    answer = client.get(through_provider(idp, started.headers["Location"], "carol"))
    assert answer.headers["Location"] == "/login"
    assert not audit_rows(app, "auth.reauthenticated")
