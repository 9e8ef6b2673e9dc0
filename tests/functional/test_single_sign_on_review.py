"""Single sign-on under attack: what a review of portal/sso/ found, each shown fixed against the
real OpenID Provider (tests/oidc), without a browser (docs/single-sign-on.md, "Attacks
considered").

- a callback's ``error`` is typed by whoever sends the browser there: it must not reach the
  audit trail as typed;
- an answer naming another issuer (RFC 9207 ``iss``, a mix-up) must not have its code sent to
  this provider;
- a back-channel logout token is believed once (``jti``), and genuine logouts are never
  rate-limited away;
- the break-glass account is out of every provider's reach (matched, provisioned);
- a second provider vouching for the same verified email does not take over an account
  another provider's person signs in to;
- a groups claim that is not a list holds no groups; group names are compared exactly.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from portal.sso.signin import groups_of
from tests.support.auth import audit_rows
from tests.support.openid_provider import (
    callback_from_provider,
    running_provider,
    sign_in_with_client,
)

PROVIDER = "testidp"
#: The provider signs with this key, so that a test can make a logout token it would make.
SIGNING_KEY = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
CAROL = {
    "sub": "sub-carol",
    "password": "carol-idp-password",
    "email": "carol@example.test",
    "name": "Carol Example",
    "groups": ["postern-backoffice"],
    "amr": ["pwd", "mfa"],
}


@pytest.fixture
def idp(tmp_path):
    key = json.dumps(SIGNING_KEY.as_dict(private=True))
    with running_provider(tmp_path / "idp", OIDC_SIGNING_JWK=key) as provider:
        provider.register_portal("http://localhost", PROVIDER)
        provider.set_users({"carol": dict(CAROL)})
        yield provider


def _identities(app) -> list[tuple[str, int]]:
    from portal.extensions import db
    from portal.models.single_sign_on import SsoIdentity

    with app.app_context():
        return [
            (row.provider, row.user_id) for row in db.session.execute(select(SsoIdentity)).scalars()
        ]


def _with_query(path: str, **values: str) -> str:
    parts = urlsplit(path)
    query = {key: value[0] for key, value in parse_qs(parts.query).items()}
    query.update(values)
    return f"{parts.path}?{urlencode(query)}"


# --- the callback -----------------------------------------------------------------------------


def test_an_error_typed_into_the_callback_is_not_written_to_the_audit_trail(app_factory, idp):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])
    client = app.test_client()
    typed = "4242 4242 4242 4242 carol@example.test"
    answer = client.get(f"/sso/{PROVIDER}/callback?" + urlencode({"error": typed, "state": "x"}))
    assert answer.status_code == 400
    answer = client.get(f"/sso/{PROVIDER}/callback?error=access_denied&state=x")
    assert answer.status_code == 400
    reasons = [row.details["reason"] for row in audit_rows(app, "sso.sign_in_failed")]
    assert reasons == ["oauth:other", "oauth:access_denied"]


def test_an_answer_naming_another_issuer_is_refused_before_its_code_is_used(app_factory, idp):
    """RFC 9207: the provider names itself in its answer (``iss``). An answer that names
    another (a mix-up between providers) is refused without sending the code anywhere: the
    same, untouched answer still signs in afterwards."""
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])
    client = app.test_client()
    callback = callback_from_provider(client, idp, "carol")
    assert parse_qs(urlsplit(callback).query)["iss"] == [idp.issuer]

    mixed_up = client.get(_with_query(callback, iss="https://attacker.example.test"))
    assert mixed_up.status_code == 400
    assert audit_rows(app, "sso.sign_in_failed")[-1].details["reason"] == "wrong_issuer"
    assert client.get(callback).headers["Location"] == "/backoffice/"


# --- back-channel logout ----------------------------------------------------------------------


def _logout_token(idp, *, jti: str, sub: str = "sub-carol") -> str:
    payload = {
        "iss": idp.issuer,
        "aud": "postern-test",
        "iat": int(time.time()),
        "jti": jti,
        "sub": sub,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }
    return jwt.encode(
        {"alg": "RS256", "kid": "test-key-1", "typ": "logout+jwt"}, payload, SIGNING_KEY
    )


def test_a_replayed_logout_token_ends_nothing(app_factory, idp):
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])
    first = app.test_client()
    assert sign_in_with_client(first, idp, "carol").headers["Location"] == "/backoffice/"
    provider_server = app.test_client()
    token = _logout_token(idp, jti="logout-1")
    answer = provider_server.post(
        f"/sso/{PROVIDER}/backchannel-logout", data={"logout_token": token}
    )
    assert answer.get_json() == {"sessions_ended": 1}
    assert first.get("/backoffice/").status_code == 302

    # Carol signs in again; the same token, sent again, must not end the new session.
    second = app.test_client()
    assert sign_in_with_client(second, idp, "carol").headers["Location"] == "/backoffice/"
    answer = provider_server.post(
        f"/sso/{PROVIDER}/backchannel-logout", data={"logout_token": token}
    )
    assert answer.status_code == 400
    assert second.get("/backoffice/").status_code == 200
    assert audit_rows(app, "sso.backchannel_logout_refused")[-1].details["reason"] == "replayed"


def test_genuine_logouts_are_never_rate_limited_away(app_factory, idp):
    """The provider's server sends every logout from one address: only refused tokens count
    towards the limit."""
    app = app_factory(
        SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)],
        RATELIMIT_LOGIN_PER_IP="2 per minute",
    )
    provider_server = app.test_client()
    url = f"/sso/{PROVIDER}/backchannel-logout"
    for number in range(4):
        token = _logout_token(idp, jti=f"logout-{number}")
        assert provider_server.post(url, data={"logout_token": token}).status_code == 200
    statuses = [provider_server.post(url, data={"logout_token": "x"}).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


# --- linking and provisioning -----------------------------------------------------------------


def test_the_break_glass_account_is_never_linked_by_username(app_factory, idp, make_staff):
    """A person whose username at the provider is the break-glass account's must not get it:
    not its sessions, not its role, not a link."""
    app = app_factory(
        SSO_PROVIDERS=[idp.provider_setting(PROVIDER, match_by="username")],
        SSO_ONLY=True,
        SSO_BREAK_GLASS_USERNAME="rescue-admin",
    )
    admin = make_staff("admin", username="rescue-admin", mfa=True)
    idp.set_users({"rescue-admin": {**CAROL, "groups": ["postern-agents"]}})
    answer = sign_in_with_client(app.test_client(), idp, "rescue-admin")
    assert answer.status_code == 403
    refused = audit_rows(app, "sso.sign_in_refused")[-1]
    assert refused.details == {"provider": PROVIDER, "reason": "break_glass_account"}
    assert refused.target_id == str(admin.id)
    assert _identities(app) == []
    assert not audit_rows(app, "staff.role_changed")


def test_just_in_time_provisioning_cannot_claim_the_break_glass_name(app_factory, idp):
    app = app_factory(
        SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)],
        SSO_ONLY=True,
        SSO_BREAK_GLASS_USERNAME="rescue-admin",
    )
    idp.set_users({"Rescue-Admin": dict(CAROL)})
    assert sign_in_with_client(app.test_client(), idp, "Rescue-Admin").status_code == 403
    assert audit_rows(app, "sso.sign_in_refused")[-1].details["reason"] == "break_glass_account"
    assert not audit_rows(app, "staff.created")


def test_a_second_provider_cannot_take_over_an_account_linked_to_the_first(
    app_factory, idp, tmp_path
):
    """Both providers vouch for carol@example.test, verified. The account made through the
    first is not handed to whoever the second says has that address."""
    with running_provider(tmp_path / "other") as other:
        other.register_portal("http://localhost", "otheridp")
        other.set_users({"mallory": {**CAROL, "sub": "sub-mallory", "password": "m-password"}})
        app = app_factory(
            SSO_PROVIDERS=[
                idp.provider_setting(PROVIDER, jit=True),
                other.provider_setting("otheridp", label="Sign in with Other ID"),
            ]
        )
        assert sign_in_with_client(app.test_client(), idp, "carol").headers["Location"] == (
            "/backoffice/"
        )
        answer = sign_in_with_client(app.test_client(), other, "mallory", "otheridp")
        assert answer.status_code == 403
        assert audit_rows(app, "sso.sign_in_refused")[-1].details == {
            "provider": "otheridp",
            "reason": "account_linked_elsewhere",
        }
        assert [provider for provider, _user in _identities(app)] == [PROVIDER]


# --- role mapping -----------------------------------------------------------------------------


def test_a_groups_claim_that_is_not_a_list_holds_no_groups():
    # Entra ID's overage pointer is an object: its keys are not group names.
    assert groups_of({"groups": {"postern-admins": "x"}}, "groups") == set()
    assert groups_of({"groups": ["postern-admins", 7, None]}, "groups") == {"postern-admins"}
    assert groups_of({"groups": "postern-admins"}, "groups") == {"postern-admins"}


def test_group_names_are_compared_exactly(app_factory, idp):
    """A group that differs only in case is another group (a provider may let people make
    their own groups): refused, as for no mapped group."""
    app = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])
    idp.update_user("carol", groups=["Postern-Admins", "POSTERN-BACKOFFICE"])
    assert sign_in_with_client(app.test_client(), idp, "carol").status_code == 403
    assert audit_rows(app, "sso.sign_in_refused")[-1].details["reason"] == "no_mapped_group"


def test_an_account_linked_before_it_was_named_break_glass_is_refused(app_factory, idp):
    before = app_factory(SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)])
    assert sign_in_with_client(before.test_client(), idp, "carol").headers["Location"] == (
        "/backoffice/"
    )
    after = app_factory(
        SSO_PROVIDERS=[idp.provider_setting(PROVIDER, jit=True)],
        SSO_BREAK_GLASS_USERNAME="carol",
    )
    assert sign_in_with_client(after.test_client(), idp, "carol").status_code == 403
    assert audit_rows(after, "sso.sign_in_refused")[-1].details["reason"] == "break_glass_account"


def test_provider_b_answer_at_provider_a_callback_is_refused(app_factory, idp, tmp_path):
    """A mix-up: the browser signed in at provider B, but its answer is sent to provider A's
    callback. With B's ``iss`` it is refused before any code is redeemed; without it, A has no
    such ``state``. Either way nobody signs in, and B's own callback still works."""
    with running_provider(tmp_path / "other") as other:
        other.register_portal("http://localhost", "otheridp")
        other.set_users({"carol": dict(CAROL)})
        app = app_factory(
            SSO_PROVIDERS=[
                idp.provider_setting(PROVIDER, jit=True),
                other.provider_setting("otheridp", label="Sign in with Other ID", jit=True),
            ]
        )
        client = app.test_client()
        answer_of_b = callback_from_provider(client, other, "carol", "otheridp")
        at_a = answer_of_b.replace("/sso/otheridp/", f"/sso/{PROVIDER}/")
        assert client.get(at_a).status_code == 400
        query = {key: value[0] for key, value in parse_qs(urlsplit(at_a).query).items()}
        query.pop("iss")
        assert client.get(f"{urlsplit(at_a).path}?{urlencode(query)}").status_code == 400
        reasons = [row.details["reason"] for row in audit_rows(app, "sso.sign_in_failed")]
        assert reasons == ["wrong_issuer", "oauth:mismatching_state"]
        assert client.get("/backoffice/").status_code == 302
        assert client.get(answer_of_b).headers["Location"] == "/backoffice/"
