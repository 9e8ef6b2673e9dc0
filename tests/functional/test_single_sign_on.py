"""Single sign-on through the app's pages and a real OpenID Provider (tests/oidc), without a
browser: linking existing accounts, SSO-only mode and its break-glass account, the local second
factor, back-channel logout tokens that must be refused, and the settings' checks.

The browser journeys (sign-in, a group removed, forged state, replayed code, wrong nonce,
back-channel logout from the provider) are tests/browser/test_single_sign_on.py.
"""

from __future__ import annotations

import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from config.settings import ConfigError, ProductionConfig
from config.sso import SsoConfigError, parse_providers, production_problems
from tests.support.auth import audit_rows
from tests.support.openid_provider import running_provider, sign_in_with_client
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, current_totp, post_form

PROVIDER = "testidp"


@pytest.fixture
def idp(tmp_path):
    with running_provider(tmp_path / "idp") as provider:
        provider.register_portal("http://localhost", PROVIDER)
        provider.set_users(
            {
                "carol": {
                    "sub": "sub-carol",
                    "password": "carol-idp-password",
                    "email": "Carol@Example.test",
                    "name": "Carol Example",
                    "groups": ["postern-backoffice"],
                    "amr": ["pwd"],
                }
            }
        )
        yield provider


def test_without_jit_a_person_with_no_account_is_refused(app_factory, idp):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER)])
    client = app.test_client()
    response = sign_in_with_client(client, idp, "carol")
    assert response.status_code == 403
    assert "There is no Postern account for you yet." in response.get_data(as_text=True)
    assert audit_rows(app, "sso.sign_in_refused")[-1].details == {
        "provider": PROVIDER,
        "reason": "no_account",
    }
    assert client.get("/backoffice/").status_code == 302  # not signed in


def test_an_existing_account_is_linked_by_verified_email_then_found_by_subject(
    app_factory, idp, make_staff
):
    """The first sign-in links by the provider's verified email (any case); the link, not the
    address, finds the account afterwards: a new address at the provider changes nothing."""
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER)])
    user = make_staff("backoffice", username="carol.b", mfa=True)
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        db.session.get(StaffUser, user.id).email = "carol@example.test"
        db.session.commit()
    client = app.test_client()
    response = sign_in_with_client(client, idp, "carol")
    # The provider proved no second factor: Postern's own TOTP step, then the back office.
    assert response.headers["Location"] == "/login/mfa"
    response = post_form(client, "/login/mfa", {"code": current_totp(user)})
    assert response.headers["Location"] == "/backoffice/"
    linked = audit_rows(app, "sso.identity_linked")
    assert linked[-1].details == {"provider": PROVIDER, "matched_by": "email"}

    # The session that finished the second factor is still the provider session's.
    from portal.models.single_sign_on import SsoSession
    from portal.models.staff import StaffSession

    with app.app_context():
        live = db.session.execute(
            select(StaffSession.id).where(
                StaffSession.user_id == user.id, StaffSession.ended_at.is_(None)
            )
        ).scalar_one()
        assert (
            db.session.execute(select(SsoSession).where(SsoSession.staff_session_id == live))
            .scalar_one()
            .provider_sid
        )

    idp.update_user("carol", email="someone.else@example.test")
    second = app.test_client()
    response = sign_in_with_client(second, idp, "carol")
    assert response.headers["Location"] == "/login/mfa"


def test_matching_by_username_links_no_other_username(app_factory, idp, make_staff):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, match_by="username")])
    make_staff("backoffice", username="someone-else", mfa=True)
    response = sign_in_with_client(app.test_client(), idp, "carol")
    assert response.status_code == 403
    assert audit_rows(app, "sso.sign_in_refused")[-1].details["reason"] == "no_account"


def test_a_second_factor_is_enrolled_locally_when_the_provider_proves_none(app_factory, idp):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])
    client = app.test_client()
    response = sign_in_with_client(client, idp, "carol")
    assert response.headers["Location"] == "/account/mfa/setup"
    assert client.get("/backoffice/").headers["Location"] == "/account/mfa/setup"


def test_an_acr_value_listed_as_multi_factor_satisfies_the_second_factor(app_factory, idp):
    idp.update_user("carol", amr=["pwd"], acr="urn:postern:test:mfa")
    setting = idp.provider_setting(PROVIDER, jit=True, mfa_amr=[], mfa_acr=["urn:postern:test:mfa"])
    app = app_factory(SSO_PROVIDERS=[setting])
    client = app.test_client()
    response = sign_in_with_client(client, idp, "carol")
    assert response.headers["Location"] == "/backoffice/"
    assert client.get("/backoffice/").status_code == 200


def test_sso_only_mode_refuses_passwords_except_the_break_glass_admin(app_factory, idp, make_staff):
    app = app_factory(
        SSO_PROVIDERS=[idp.provider_setting(PROVIDER)],
        SSO_ONLY=True,
        SSO_BREAK_GLASS_USERNAME="Rescue-Admin",
    )
    agent = make_staff("agent")
    admin = make_staff("admin", username="rescue-admin", mfa=True)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Test ID" in page
    assert "Emergency access for the administrator" in page

    response = post_form(
        client, "/login", {"username": agent.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 403
    assert "Sign in with your organisation" in response.get_data(as_text=True)
    refused = audit_rows(app, "auth.password_sign_in_refused")
    assert refused[-1].details == {"reason": "sso_only"}
    assert not audit_rows(app, "auth.login_failed")  # the password was not even checked

    response = post_form(
        client, "/login", {"username": admin.username, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/login/mfa"  # and then the admin's own TOTP


def test_the_sign_in_page_lets_its_forms_lead_on_to_the_provider_only(app_factory, idp):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER)])
    client = app.test_client()
    login_csp = client.get("/login").headers["Content-Security-Policy"]
    form_action = next(part for part in login_csp.split(";") if "form-action" in part)
    assert form_action.split() == ["form-action", "'self'", idp.issuer]
    other_csp = client.get("/accessibility").headers["Content-Security-Policy"]
    assert idp.issuer not in other_csp


def _logout_token(idp, key, **claims) -> str:
    now = int(time.time())
    payload = {
        "iss": idp.issuer,
        "aud": "postern-test",
        "iat": now,
        "jti": f"jti-{now}",
        "sub": "sub-carol",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": "test-key-1", "typ": "logout+jwt"}, payload, key)


def test_a_logout_token_not_signed_by_the_provider_ends_nothing(app_factory, idp):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])
    client = app.test_client()
    idp.update_user("carol", amr=["pwd", "mfa"])
    assert sign_in_with_client(client, idp, "carol").headers["Location"] == "/backoffice/"

    stranger = RSAKey.generate_key(2048)
    provider_server = app.test_client()  # no cookie, no CSRF token: as the provider's server
    for token in (
        _logout_token(idp, stranger),
        "not a token",
        "",
    ):
        answer = provider_server.post(
            f"/sso/{PROVIDER}/backchannel-logout", data={"logout_token": token}
        )
        assert answer.status_code == 400
        assert answer.get_json() == {"error": "invalid_request"}
        assert answer.headers["Cache-Control"] == "no-store"
    assert client.get("/backoffice/").status_code == 200  # still signed in
    reasons = [row.details["reason"] for row in audit_rows(app, "sso.backchannel_logout_refused")]
    assert len(reasons) == 3 and all(reason.startswith("invalid_token") for reason in reasons)
    assert not audit_rows(app, "sso.backchannel_logout")


def test_an_unknown_provider_answers_404(app_factory, idp):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER)])
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/sso/nobody/start", data={"csrf_token": token}).status_code == 404
    assert client.get("/sso/nobody/callback?code=x&state=y").status_code == 404
    assert client.post("/sso/nobody/backchannel-logout").status_code == 404


def test_the_start_needs_the_csrf_token(app_factory, idp):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER)])
    assert app.test_client().post(f"/sso/{PROVIDER}/start").status_code == 400


# --- settings -----------------------------------------------------------------------------


def _entry(**changes) -> dict:
    entry = {
        "name": "corp",
        "issuer": "https://login.example.test/tenant/v2.0",
        "client_id": "postern",
        "client_secret_env": "TEST_SSO_SECRET",
        "mapping": [{"group": "g-agents", "role": "agent", "team": "North"}],
    }
    entry.update(changes)
    return entry


def test_providers_are_parsed_with_their_mapping_in_order():
    (provider,) = parse_providers(
        json.dumps(
            [
                _entry(
                    mapping=[
                        {"group": "g-admin", "role": "admin"},
                        {"group": "g-agents", "role": "agent", "team": "North"},
                    ]
                )
            ]
        ),
        environ={"TEST_SSO_SECRET": "s3cret"},
    )
    assert provider.client_secret == "s3cret"
    assert "s3cret" not in repr(provider)
    assert provider.discovery_url == (
        "https://login.example.test/tenant/v2.0/.well-known/openid-configuration"
    )
    assert provider.rule_for({"g-agents", "g-admin"}).role == "admin"  # first listed wins
    assert provider.rule_for({"g-agents"}).team == "North"
    assert provider.rule_for({"other"}) is None


@pytest.mark.parametrize(
    "entry, message",
    [
        (_entry(name="Not Valid"), "'name' must be"),
        (_entry(client_secret_env="UNSET_VARIABLE"), "UNSET_VARIABLE"),
        (_entry(mapping=[]), "'mapping' must list"),
        (_entry(match_by="phone"), "'match_by'"),
    ],
)
def test_a_bad_provider_entry_is_refused(entry, message):
    with pytest.raises(SsoConfigError, match=message):
        parse_providers(json.dumps([entry]), environ={"TEST_SSO_SECRET": "x"})


def test_the_app_refuses_to_start_with_a_mapping_to_an_unknown_role(app_factory, monkeypatch):
    monkeypatch.setenv("TEST_SSO_SECRET", "x")
    with pytest.raises(ConfigError, match="unknown roles"):
        app_factory(SSO_PROVIDERS=[_entry(mapping=[{"group": "g", "role": "superuser"}])])
    with pytest.raises(ConfigError, match="not valid JSON"):
        app_factory(SSO_PROVIDERS="[not json")
    with pytest.raises(ConfigError, match="POSTERN_SSO_BREAK_GLASS_USERNAME"):
        app_factory(SSO_PROVIDERS=[_entry()], SSO_ONLY=True)


def test_production_requires_https_issuers(monkeypatch):
    monkeypatch.setenv("TEST_SSO_SECRET", "x")
    providers = parse_providers(
        json.dumps([_entry(issuer="http://login.example.test")]), environ={"TEST_SSO_SECRET": "x"}
    )
    problems = production_problems({"SSO_PROVIDERS": providers})
    assert any("must be an https:// URL in production" in problem for problem in problems)
    with pytest.raises(ConfigError, match="https:// URL in production"):
        ProductionConfig.validate(
            {"SSO_PROVIDERS": json.dumps([_entry(issuer="http://login.example.test")])}
        )
