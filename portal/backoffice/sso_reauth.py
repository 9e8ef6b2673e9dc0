"""Confirm it's you through the identity provider: the way an account that signs in with single
sign-on re-authenticates before a sensitive action (``portal.sso.reauth`` has the rules).

``/backoffice/reauth/sso/<name>`` sends the person to their provider with ``prompt=login`` and
``max_age=0``; the provider's answer comes back to the sign-in callback
(``portal.auth.sso_views``), the one redirect URI registered at the provider, which tells it
from a sign-in by the ``state`` kept here. If the provider proved no second factor,
``/backoffice/reauth/sso/code`` asks for Postern's own: the authenticator app's code, or a
passkey (``/backoffice/reauth/sso/passkey``, user verified). Then the person returns
to the page they were on, where a form they had sent is filled in again
(``portal.backoffice.kept_forms``: it is keyed by that page, so it survives the round trip).
"""

from __future__ import annotations

import time

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Regexp

from portal.backoffice.reauth import PASSKEY_CEREMONY
from portal.backoffice.views import bp
from portal.extensions import db, limiter
from portal.i18n import N_, gettext, lazy_gettext
from portal.security import sessions
from portal.security.actors import client_origin
from portal.security.redirects import safe_next
from portal.security.validators import NoCardNumbers
from portal.sso import client as sso_client
from portal.sso import reauth as sso_reauth
from portal.staff.reauth import has_passkey, passkey_options

LOCKED = N_("Too many failed attempts: the account is locked for 30 minutes. Sign in again later.")
WRONG = N_("That code is not right, or was already used. Failed attempts count towards locking.")
WRONG_PASSKEY = "That passkey was not accepted. Failed attempts count towards locking."


class StepUpCodeForm(FlaskForm):
    code = StringField(
        lazy_gettext("Code from your authenticator app"),
        validators=[
            DataRequired(lazy_gettext("Enter the 6-digit code.")),
            NoCardNumbers(),
            Regexp(
                r"^\s*\d{3}\s?\d{3}\s*$", message=lazy_gettext("Enter the 6 digits of the code.")
            ),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


def _staff_key() -> str:
    user = g.get("staff_user")
    return f"reauth:{user.id}" if user is not None else get_remote_address()


def _rate() -> str:
    return current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"]


@bp.post("/reauth/sso/<name>")
@limiter.limit(_rate, key_func=_staff_key)
def sso_reauth_start(name: str):
    """Send the person to their provider to sign in again (a POST with the CSRF token)."""
    user, row = g.staff_user, g.staff_session
    provider = sso_reauth.provider_for(user, row)
    if provider is None or provider.name != name:
        abort(404)
    back_to = safe_next(request.args.get("next"), url_for("backoffice.home"))
    callback = url_for("auth.sso_callback", name=provider.name, _external=True)
    client = sso_client.oauth_client(provider)
    try:
        # OIDC Core 3.1.2.1: prompt=login makes the provider ask again whatever session it
        # has; max_age=0 asks for auth_time in the ID token, and for a fresh one.
        found = client.create_authorization_url(callback, prompt="login", max_age=0)
    except (OSError, ValueError, KeyError):  # discovery failed: the provider is down
        flash(
            gettext(
                "Your organisation's sign-in service cannot be reached at the moment. Try "
                "again in a few minutes."
            ),
            "error",
        )
        return redirect(url_for("backoffice.reauth", next=back_to), code=303)
    url = found.pop("url")
    # Kept in the cookie session like a sign-in's (state, nonce, PKCE verifier), without the
    # long URL: a kept form shares the 4 KB cookie.
    client.save_authorize_data(redirect_uri=callback, **found)
    session[sso_reauth.STEP_UP_KEY] = {
        "provider": provider.name,
        "state": found["state"],
        "session": row.id,
        "next": back_to,
    }
    return redirect(url, code=303)


def _proven_provider(user, row):
    """(provider, back_to) while the provider's confirmation waits for Postern's own second
    factor; (None, back_to) when there is none, or it has expired (flashed; the caller sends
    the person back to the re-authentication page)."""
    proven = session.get(sso_reauth.PROVEN_KEY)
    if not isinstance(proven, dict) or proven.get("session") != row.id:
        return None, url_for("backoffice.home")
    back_to = safe_next(proven.get("next"), url_for("backoffice.home"))
    provider = sso_reauth.provider_for(user, row)
    if (
        provider is None
        or provider.name != proven.get("provider")
        or not isinstance(proven.get("at"), int)
        or time.time() - proven["at"] > sso_reauth.CODE_WINDOW_SECONDS
    ):
        session.pop(sso_reauth.PROVEN_KEY, None)
        flash(gettext(sso_reauth.REFUSALS["code_expired"]), "error")
        return None, back_to
    return provider, back_to


@bp.route("/reauth/sso/code", methods=["GET", "POST"])
@limiter.limit(_rate, key_func=_staff_key, methods=["POST"])
def sso_reauth_code():
    """Postern's own second factor, after the provider confirmed the person without one: the
    authenticator app's code here, or a passkey (``sso_reauth_passkey``)."""
    user, row = g.staff_user, g.staff_session
    proven = session.get(sso_reauth.PROVEN_KEY)
    if not isinstance(proven, dict) or proven.get("session") != row.id:
        return redirect(url_for("backoffice.reauth"), code=303)
    provider, back_to = _proven_provider(user, row)
    if provider is None:
        return redirect(url_for("backoffice.reauth", next=back_to), code=303)
    with_passkey = has_passkey(user)
    if not user.mfa_enabled and not with_passkey:
        session.pop(sso_reauth.PROVEN_KEY, None)
        return render_template("backoffice/sso_reauth_code.html", form=None, back_to=back_to)
    form = StepUpCodeForm()
    page = {
        "form": form if user.mfa_enabled else None,
        "passkey": with_passkey,
        "back_to": back_to,
        "provider": provider,
    }
    if page["form"] is None or not form.validate_on_submit():
        return render_template("backoffice/sso_reauth_code.html", **page)
    outcome = sso_reauth.confirm_code(provider, user, row, form.code.data, origin=client_origin())
    if outcome is None:
        session.pop(sso_reauth.PROVEN_KEY, None)
        sessions.end_current_session("locked")
        db.session.commit()
        flash(gettext(LOCKED), "error")
        return redirect(url_for("auth.login"), code=303)
    if outcome:
        session.pop(sso_reauth.PROVEN_KEY, None)
        return redirect(back_to, code=303)
    form.code.data = ""
    return render_template("backoffice/sso_reauth_code.html", error=gettext(WRONG), **page), 401


@bp.post("/reauth/sso/passkey/options")
@limiter.limit(_rate, key_func=_staff_key)
def sso_reauth_passkey_options():
    """Start the passkey ceremony, once the provider has confirmed the person."""
    user, row = g.staff_user, g.staff_session
    provider, back_to = _proven_provider(user, row)
    if provider is None:
        return jsonify(redirect=url_for("backoffice.reauth", next=back_to)), 409
    if not has_passkey(user):
        return jsonify(error="Your account has no passkey."), 404
    options = passkey_options(user)
    session[PASSKEY_CEREMONY] = options.token
    db.session.commit()
    return Response(options.json, mimetype="application/json")


@bp.post("/reauth/sso/passkey")
@limiter.limit(_rate, key_func=_staff_key)
def sso_reauth_passkey():
    """The passkey's answer: with the provider's confirmation, the session is re-authenticated
    (factor ``sso:<name>+passkey``)."""
    user, row = g.staff_user, g.staff_session
    body = request.get_json(silent=True)
    token = session.pop(PASSKEY_CEREMONY, None)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return jsonify(error="Something went wrong. Try again."), 400
    provider, back_to = _proven_provider(user, row)
    if provider is None:
        return jsonify(redirect=url_for("backoffice.reauth", next=back_to)), 409
    outcome = sso_reauth.confirm_passkey(
        provider, user, row, token, body["credential"], origin=client_origin()
    )
    if outcome is None:
        session.pop(sso_reauth.PROVEN_KEY, None)
        sessions.end_current_session("locked")
        db.session.commit()
        flash(gettext(LOCKED), "error")
        return jsonify(error=LOCKED, redirect=url_for("auth.login")), 401
    if outcome:
        session.pop(sso_reauth.PROVEN_KEY, None)
        return jsonify(redirect=back_to)
    return jsonify(error=WRONG_PASSKEY), 401
