"""OpenID Connect Back-Channel Logout 1.0: the provider tells Postern, server to server, that a
person's session there has ended, and Postern ends the sessions it opened.

The logout token is a JWT signed by the provider. It is believed only after every check of
the specification's section 2.6: signature by a key the provider publishes (its JWKS), issuer,
audience (our client id), issued-at within a few minutes, the back-channel logout event, a
``sub`` or ``sid``, and no ``nonce`` (so an ID token cannot be passed off as one). Each
token is believed once: its ``jti`` is remembered for as long as the token could pass the
age check, so a captured token replayed later cannot end sessions opened after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from config.sso import SsoProvider
from portal import audit
from portal.models.types import utcnow
from portal.sso import sessions as sso_sessions
from portal.sso.client import oauth_client
from portal.sso.signin import provider_actor

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: How old a logout token may be; the provider sends it the moment its session ends.
MAX_AGE_SECONDS = 300
#: Clock difference allowed between the provider and Postern.
LEEWAY_SECONDS = 60


class LogoutTokenError(ValueError):
    """The logout token failed a check; the message is a reason code, never the token."""


#: Signature algorithms a logout token may use: the provider's published asymmetric ones only
#: (never ``none``, never an HMAC keyed with something a client also knows).
_ASYMMETRIC = ("RS", "PS", "ES", "Ed")


@dataclass(frozen=True)
class LogoutClaims:
    subject: str | None
    provider_sid: str | None
    token_id: str


def verify_logout_token(provider: SsoProvider, token: str) -> LogoutClaims:
    """Check ``token`` from ``provider``; raises LogoutTokenError."""
    client = oauth_client(provider)
    try:
        metadata = client.load_server_metadata()
        published = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in published if str(alg).startswith(_ASYMMETRIC)]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            decoded = jwt.decode(
                token, KeySet.import_key_set(client.fetch_jwk_set()), registry=registry
            )
        except InvalidKeyIdError:  # the provider rotated its keys since we last fetched them
            keys = KeySet.import_key_set(client.fetch_jwk_set(force=True))
            decoded = jwt.decode(token, keys, registry=registry)
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            iat={"essential": True},
            jti={"essential": True},
        ).validate(decoded.claims)
    except JoseError as problem:
        raise LogoutTokenError(f"invalid_token:{problem.error}") from None
    claims = decoded.claims
    typ = decoded.header.get("typ")
    if typ is not None and str(typ).lower() not in ("logout+jwt", "application/logout+jwt", "jwt"):
        raise LogoutTokenError("wrong_type")
    if claims["iat"] < utcnow().timestamp() - MAX_AGE_SECONDS - LEEWAY_SECONDS:
        raise LogoutTokenError("too_old")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise LogoutTokenError("no_logout_event")
    if "nonce" in claims:
        raise LogoutTokenError("has_nonce")
    subject, sid = claims.get("sub"), claims.get("sid")
    subject = subject if isinstance(subject, str) and subject else None
    sid = sid if isinstance(sid, str) and sid else None
    if subject is None and sid is None:
        raise LogoutTokenError("no_sub_or_sid")
    token_id = claims["jti"]
    if not isinstance(token_id, str) or not token_id:
        raise LogoutTokenError("no_jti")
    return LogoutClaims(subject, sid, token_id)


def provider_logout(provider: SsoProvider, token: str, *, origin: audit.ClientOrigin) -> int:
    """Verify ``token`` and end the Postern sessions it names; returns how many ended. Raises
    LogoutTokenError (audited). Caller commits either way."""
    actor = provider_actor(provider, origin)
    try:
        claims = verify_logout_token(provider, token)
        if not sso_sessions.first_use_of_logout_token(
            provider.issuer,
            claims.token_id,
            keep_for=timedelta(seconds=MAX_AGE_SECONDS + 2 * LEEWAY_SECONDS),
        ):
            raise LogoutTokenError("replayed")
    except LogoutTokenError as problem:
        audit.record(
            "sso.backchannel_logout_refused",
            outcome="failure",
            details={"provider": provider.name, "reason": str(problem)[:80]},
            actor=actor,
        )
        raise
    users, ended = sso_sessions.end_for_provider_logout(
        provider.issuer, subject=claims.subject, provider_sid=claims.provider_sid
    )
    audit.record(
        "sso.backchannel_logout",
        target_type="staff_user" if len(users) == 1 else None,
        target_id=users[0] if len(users) == 1 else None,
        details={"provider": provider.name, "sessions_ended": ended, "users": len(users)},
        actor=actor,
    )
    return ended
