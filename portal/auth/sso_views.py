"""Single sign-on pages on the sign-in blueprint: start, callback, back-channel logout.

The rules are ``portal.sso``'s; these views move the browser between Postern and the provider
and turn the outcome into a session exactly as a password sign-in does (the same second-factor
steps when the provider has not proved one).
"""

from __future__ import annotations

import logging

from authlib.integrations.base_client import OAuthError
from flask import abort, flash, g, jsonify, render_template, request, session, url_for
from flask import redirect as flask_redirect
from flask_limiter.util import get_remote_address
from joserfc.errors import JoseError
from requests import RequestException

from portal import audit
from portal.auth.forms import LoginForm
from portal.auth.views import _login_rate_ip, bp, home_for
from portal.extensions import db, limiter
from portal.i18n import N_, gettext
from portal.models.types import utcnow
from portal.security import sessions
from portal.security.actors import client_origin
from portal.security.authz import mfa_required
from portal.security.headers import sign_in_page
from portal.security.redirects import safe_next
from portal.sso import client as sso_client
from portal.sso import logout as sso_logout
from portal.sso import reauth as sso_reauth
from portal.sso import sessions as sso_sessions
from portal.sso.signin import SignInRefused, sign_in
from portal.staff import login as staff_login

log = logging.getLogger(__name__)

#: Where the page asked for before sign-in waits while the browser is at the provider.
_NEXT_KEY = "sso_next"

FAILED_MESSAGE = N_("Signing in with your organisation's account did not work. Please try again.")
UNREACHABLE_MESSAGE = N_(
    "Your organisation's sign-in service cannot be reached at the moment. Try again in a few "
    "minutes."
)
#: OAuth 2.0 and OpenID Connect error codes (RFC 6749 4.1.2.1 and 5.2, OIDC Core 3.1.2.6) and
#: Authlib's own. The ``error`` of a callback is typed by whoever sends the browser there: any
#: other value is recorded as ``other``, so that nothing a stranger writes reaches the trail.
_KNOWN_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
        "invalid_grant",
        "invalid_client",
        "unsupported_grant_type",
        "mismatching_state",
        "missing_token",
    }
)


def _provider_or_404(name: str):
    provider = sso_client.provider_named(name)
    if provider is None:
        abort(404)
    return provider


def _login_page(error: str, status: int):
    """``error``: a message marked with ``N_``, translated here."""
    return render_template(
        "auth/login.html", form=LoginForm(), next=None, error=gettext(error)
    ), status


@bp.post("/sso/<name>/start")
@sign_in_page  # an error answer shows the buttons again
@limiter.limit(_login_rate_ip, key_func=get_remote_address)
def sso_start(name: str):
    """Send the browser to the provider (a POST with the CSRF token, so no other site can
    start a sign-in in someone's browser)."""
    provider = _provider_or_404(name)
    session[_NEXT_KEY] = safe_next(request.form.get("next"), "") or None
    callback = url_for("auth.sso_callback", name=provider.name, _external=True)
    try:
        return sso_client.oauth_client(provider).authorize_redirect(callback)
    except (RequestException, ValueError, KeyError) as problem:
        # Discovery failed: the provider is down or its address is wrong.
        log.warning("sso discovery failed for %s: %s", provider.name, type(problem).__name__)
        audit.record(
            "sso.sign_in_failed",
            outcome="failure",
            details={"provider": provider.name, "reason": "provider_unreachable"},
            actor=audit.ANONYMOUS.at(client_origin()),
        )
        db.session.commit()
        return _login_page(UNREACHABLE_MESSAGE, 503)


@bp.get("/sso/<name>/callback")
@sign_in_page  # an error answer shows the buttons again
@limiter.limit(_login_rate_ip, key_func=get_remote_address)
def sso_callback(name: str):
    """The provider sends the browser back here with a code. Authlib checks ``state`` against
    this browser's session, redeems the code with the PKCE verifier, and checks the ID token
    (signature, issuer, audience, expiry, ``nonce``) before anything here reads it."""
    provider = _provider_or_404(name)
    origin = client_origin()
    step_up = session.get(sso_reauth.STEP_UP_KEY)
    if (
        isinstance(step_up, dict)
        and step_up.get("provider") == provider.name
        and step_up.get("state") == request.args.get("state")
    ):
        # The answer to a re-authentication (portal.backoffice.sso_reauth), not a sign-in.
        session.pop(sso_reauth.STEP_UP_KEY, None)
        return _finish_step_up(provider, step_up, origin)
    claims, reason = _exchange(provider)
    if reason:
        audit.record(
            "sso.sign_in_failed",
            outcome="failure",
            details={"provider": provider.name, "reason": reason[:80]},
            actor=audit.ANONYMOUS.at(origin),
        )
        db.session.commit()
        unreachable = reason == "provider_unreachable"
        return _login_page(
            UNREACHABLE_MESSAGE if unreachable else FAILED_MESSAGE, 503 if unreachable else 400
        )
    try:
        result = sign_in(provider, claims, origin=origin)
    except SignInRefused as refused:
        db.session.commit()  # the refusal's audit rows, and any sessions it ended
        return _login_page(refused.message, 403)
    return _start_session(provider, result, origin)


def _exchange(provider):
    """The verified ID token's claims from this callback, or why there are none: ``(claims,
    None)`` or ``(None, reason)``. Authlib checks ``state`` against this browser's session,
    redeems the code with the PKCE verifier, and checks the ID token."""
    returned_issuer = request.args.get("iss")
    if returned_issuer is not None and returned_issuer != provider.issuer:
        # RFC 9207: the answer names another provider (a mix-up): its code must not be sent
        # to this provider's token endpoint.
        return None, "wrong_issuer"
    client = sso_client.oauth_client(provider)
    try:
        token = client.authorize_access_token()
        claims = token.get("userinfo")
        if not claims:
            return None, "no_id_token"
        if claims.get("iss") != provider.issuer:
            return None, "wrong_issuer"
        if provider.groups_claim not in claims:
            claims = _with_userinfo_groups(provider, client, token, claims)
    except OAuthError as problem:  # a forged or stale state, or the provider refused the code
        error = problem.error if problem.error in _KNOWN_ERRORS else "other"
        return None, f"oauth:{error}"
    except JoseError as problem:  # the ID token failed a check (nonce, signature, expiry...)
        return None, f"id_token:{problem.error}"
    except RequestException:
        return None, "provider_unreachable"
    return claims, None


def _finish_step_up(provider, step_up: dict, origin):
    """Back from the provider after ``prompt=login``: re-authenticate the signed-in person
    (``portal.sso.reauth``), then return to the page they were on, or ask for Postern's own
    code first when the provider proved no second factor."""
    user, row = g.get("staff_user"), g.get("staff_session")
    back_to = safe_next(step_up.get("next"), url_for("backoffice.home"))
    retry = url_for("backoffice.reauth", next=back_to)
    if user is None or row is None or row.id != step_up.get("session") or not row.mfa_verified:
        # The session ended (or changed) while the person was at the provider.
        return flask_redirect(url_for("auth.login"))
    claims, reason = _exchange(provider)
    try:
        if reason:
            sso_reauth.refuse(provider, user, reason, origin)
        result = sso_reauth.check_step_up(provider, claims, user, row, origin=origin)
    except sso_reauth.StepUpRefused as refused:
        db.session.commit()  # the refusal's audit rows, and any sessions it ended
        flash(gettext(refused.message), "error")
        return flask_redirect(url_for("auth.login") if refused.ended else retry)
    db.session.commit()
    if result.mfa_by_provider:
        return flask_redirect(back_to, code=303)
    session[sso_reauth.PROVEN_KEY] = {
        "provider": provider.name,
        "session": row.id,
        "at": int(utcnow().timestamp()),
        "next": back_to,
    }
    return flask_redirect(url_for("backoffice.sso_reauth_code"), code=303)


def _with_userinfo_groups(provider, client, token, claims):
    """Some providers put groups in the UserInfo answer only: ask it, for the same subject."""
    metadata = client.load_server_metadata()
    if not metadata.get("userinfo_endpoint"):
        return claims
    info = client.userinfo(token=token)
    if info.get("sub") != claims.get("sub") or provider.groups_claim not in info:
        return claims
    return {**claims, provider.groups_claim: info[provider.groups_claim]}


def _start_session(provider, result, origin):
    user = result.user
    next_url = session.pop(_NEXT_KEY, None)  # before start_session clears the cookie session
    actor = audit.Actor.staff(user, origin)
    audit.record(
        "sso.sign_in",
        target_type="staff_user",
        target_id=user.id,
        details={
            "provider": provider.name,
            "role": user.role,
            "mfa_by_provider": result.mfa_by_provider,
        },
        actor=actor,
    )
    if result.mfa_by_provider or not (user.has_second_factor or mfa_required(user.role)):
        row = sessions.start_session(user, mfa_verified=True)
        row.mfa_by_provider = result.mfa_by_provider
        sso_sessions.link(row, result.identity, result.provider_sid)
        factors = f"sso:{provider.name}" + ("+provider_mfa" if result.mfa_by_provider else "")
        staff_login.complete_login(user, factors=factors, origin=origin)
        db.session.commit()
        return flask_redirect(safe_next(next_url, home_for(user)))
    # The provider did not prove a second factor: Postern's own, as after a password.
    row = sessions.start_session(user, mfa_verified=False)
    sso_sessions.link(row, result.identity, result.provider_sid)
    if user.has_second_factor:  # an authenticator app or a passkey
        db.session.commit()
        return flask_redirect(url_for("auth.mfa_verify", next=safe_next(next_url, "") or None))
    audit.record(
        "auth.mfa_enrolment_required", target_type="staff_user", target_id=user.id, actor=actor
    )
    db.session.commit()
    return flask_redirect(url_for("auth.mfa_setup"))


@bp.post("/sso/<name>/backchannel-logout")
# Every refused token leaves an audit row: the limit keeps strangers from filling the trail.
# Only refusals count: the provider's server sends every logout from a few addresses, and a
# burst of genuine ones (the end of a shift) must not be turned away.
@limiter.limit(
    _login_rate_ip,
    key_func=get_remote_address,
    deduct_when=lambda response: response.status_code != 200,
)
def sso_backchannel_logout(name: str):
    """The provider's server ends a person's sessions here (OIDC Back-Channel Logout 1.0).

    Exempt from CSRF (portal.security.csrf): the caller is the provider's server, which has no
    session and no CSRF token; the signed logout token authenticates the request instead, and
    it can do nothing but end sessions. No cookie is read or set.
    """
    provider = _provider_or_404(name)
    token = request.form.get("logout_token", "")
    try:
        ended = sso_logout.provider_logout(provider, token, origin=client_origin())
    except sso_logout.LogoutTokenError:
        db.session.commit()  # the refusal's audit row
        response = jsonify(error="invalid_request")
        response.status_code = 400
    else:
        db.session.commit()
        response = jsonify(sessions_ended=ended)
    response.headers["Cache-Control"] = "no-store"
    return response
