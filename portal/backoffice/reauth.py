"""``/backoffice/reauth``: confirm it's you before a sensitive action, with the password and a
second factor (a fresh authenticator-app code, or a passkey), or through the identity provider
(``portal.backoffice.sso_reauth``). Other back-office views call ``needs_reauth()`` first and,
when it returns a response, return that: the person comes back to the page they were on
afterwards. ``reauth_means()`` words what will be asked, for the pages that announce it."""

from __future__ import annotations

from flask import (
    Response,
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
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from portal.backoffice import kept_forms
from portal.backoffice.action_forms import ReauthForm
from portal.backoffice.views import bp
from portal.extensions import db, limiter
from portal.i18n import N_, gettext, lazy_gettext
from portal.security import sessions
from portal.security.actors import client_origin
from portal.security.headers import sign_in_page
from portal.security.redirects import safe_next
from portal.sso import reauth as sso_reauth
from portal.staff.reauth import (
    ReauthOutcome,
    has_passkey,
    is_recent,
    passkey_options,
    reauthenticate,
    reauthenticate_with_passkey,
)

WRONG = N_(
    "The password or the code is not right. Failed attempts count towards locking the account."
)
WRONG_PASSKEY = (
    "The password or the passkey was not accepted. Failed attempts count towards locking the "
    "account."
)
LOCKED = N_("Too many failed attempts: the account is locked for 30 minutes. Sign in again later.")
NO_SECOND_FACTOR = N_(
    "Your account has no authenticator app or passkey, so it cannot confirm sensitive actions. "
    "Add one from your account page first."
)
#: The cookie-session key for the token naming a passkey ceremony's server-side challenge
#: (also the provider step-up's, ``portal.backoffice.sso_reauth``).
PASSKEY_CEREMONY = "reauth_passkey_ceremony"


class PasskeyReauthForm(FlaskForm):
    """The password typed before the passkey is used. Its ``passkey-`` prefix keeps its name
    and id apart from the code form's password on the same page. Never posted as a form:
    static/js/auth/passkeys.js sends it with the passkey's answer."""

    password = PasswordField(
        lazy_gettext("Password"),
        validators=[DataRequired(lazy_gettext("Enter your password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )


def _staff_key() -> str:
    user = g.get("staff_user")
    return f"reauth:{user.id}" if user is not None else get_remote_address()


def _rate() -> str:
    return current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"]


def recently_reauthenticated() -> bool:
    row = g.get("staff_session")
    return row is not None and is_recent(row.reauthenticated_at)


def ask_for_reauth(back_to: str, form: FlaskForm | None = None):
    """A redirect to the re-authentication page that returns to ``back_to`` afterwards, where
    ``form``'s posted values (never its secrets) are filled in again (``kept_forms``)."""
    if form is not None:
        kept_forms.keep(form, back_to)
    flash(
        gettext(
            "For your security, confirm it is you. You will then be taken back to finish what"
            " you were doing."
        ),
        "info",
    )
    return redirect(url_for("backoffice.reauth", next=back_to), code=303)


def needs_reauth(back_to: str, form: FlaskForm | None = None):
    """None if the current session re-authenticated recently enough; otherwise a redirect to
    the re-authentication page that returns to ``back_to`` (a path on this site), with
    ``form``'s values kept for it."""
    return None if recently_reauthenticated() else ask_for_reauth(back_to, form)


def reauth_means() -> str:
    """What confirming will ask of the signed-in person, to end "You will be asked for ...":
    their organisation's sign-in, their password and a code, or a passkey, or either. English
    only, as staff pages ship (``portal.i18n``)."""
    user, row = g.get("staff_user"), g.get("staff_session")
    if user is None or row is None:
        return "your password and a code"
    provider = sso_reauth.provider_for(user, row)
    password_too = provider is None or sso_reauth.password_reauth_allowed(user)
    with_passkey = has_passkey(user)
    if with_passkey and user.mfa_enabled:
        local = "your password and a code or a passkey"
    elif with_passkey:
        local = "your password and a passkey"
    else:
        local = "your password and a code"
    if provider is None:
        return local
    if password_too:
        return f"a new sign-in to your organisation's account, or {local}"
    return "a new sign-in to your organisation's account"


@bp.context_processor
def _reauth_words() -> dict:
    return {"reauth_means": reauth_means}


def _password_path_closed(user, row) -> bool:
    """Signed in through an identity provider that alone decides (``portal.sso.reauth``)."""
    provider = sso_reauth.provider_for(user, row)
    return provider is not None and not sso_reauth.password_reauth_allowed(user)


@bp.route("/reauth", methods=["GET", "POST"])
@sign_in_page  # "Confirm with your organisation's account" leads on to the provider
@limiter.limit(_rate, key_func=_staff_key, methods=["POST"])
def reauth():
    user, row = g.staff_user, g.staff_session
    back_to = safe_next(request.args.get("next"), url_for("backoffice.home"))
    form = ReauthForm()
    # Signed in through an identity provider: confirm there (portal.backoffice.sso_reauth),
    # and with the Postern password only where sign-in itself would still take it.
    sso_provider = sso_reauth.provider_for(user, row)
    if sso_provider is not None and not sso_reauth.password_reauth_allowed(user):
        return render_template(
            "backoffice/reauth.html", form=None, back_to=back_to, sso_provider=sso_provider
        )
    with_passkey = has_passkey(user)
    if not user.mfa_enabled and not with_passkey:
        return render_template("backoffice/reauth.html", form=None, error=gettext(NO_SECOND_FACTOR))
    page = {
        "back_to": back_to,
        "sso_provider": sso_provider,
        # The code form only where an authenticator app is enrolled; the passkey form (shown
        # by static/js/auth/passkeys.js) where a passkey is.
        "form": form if user.mfa_enabled else None,
        "passkey_form": PasskeyReauthForm(prefix="passkey") if with_passkey else None,
    }
    if page["form"] is None or not form.validate_on_submit():
        return render_template("backoffice/reauth.html", **page)
    outcome = reauthenticate(user, row, form.password.data, form.code.data, origin=client_origin())
    if outcome is ReauthOutcome.OK:
        return redirect(back_to, code=303)
    if outcome is ReauthOutcome.LOCKED:
        sessions.end_current_session("locked")
        db.session.commit()
        flash(gettext(LOCKED), "error")
        return redirect(url_for("auth.login"), code=303)
    form.password.data = ""
    form.code.data = ""
    return render_template("backoffice/reauth.html", error=gettext(WRONG), **page), 401


# --- password and passkey: JSON posted by static/js/auth/passkeys.js ---------------------------


def _refused(message: str, status: int, **extra) -> tuple[Response, int]:
    return jsonify(error=message, **extra), status


@bp.post("/reauth/passkey/options")
@limiter.limit(_rate, key_func=_staff_key)
def reauth_passkey_options():
    """Start confirming with a passkey: its options, the challenge kept on the server."""
    user, row = g.staff_user, g.staff_session
    if _password_path_closed(user, row) or not has_passkey(user):
        return _refused("Your account cannot confirm with a passkey here.", 404)
    options = passkey_options(user)
    session[PASSKEY_CEREMONY] = options.token
    db.session.commit()
    return Response(options.json, mimetype="application/json")


@bp.post("/reauth/passkey")
@limiter.limit(_rate, key_func=_staff_key)
def reauth_passkey():
    """The password and the passkey's answer: stamp the session and send the person back."""
    user, row = g.staff_user, g.staff_session
    body = request.get_json(silent=True)
    token = session.pop(PASSKEY_CEREMONY, None)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return _refused("Something went wrong. Try again.", 400)
    if _password_path_closed(user, row):
        return _refused("Your account cannot confirm with a passkey here.", 404)
    back_to = safe_next(body.get("next"), url_for("backoffice.home"))
    outcome = reauthenticate_with_passkey(
        user,
        row,
        str(body.get("password") or "")[:256],
        token,
        body["credential"],
        origin=client_origin(),
    )
    if outcome is ReauthOutcome.OK:
        return jsonify(redirect=back_to)
    if outcome is ReauthOutcome.LOCKED:
        sessions.end_current_session("locked")
        db.session.commit()
        flash(gettext(LOCKED), "error")
        return _refused(LOCKED, 401, redirect=url_for("auth.login"))
    if outcome is ReauthOutcome.NO_SECOND_FACTOR:
        return _refused(NO_SECOND_FACTOR, 400)
    return _refused(WRONG_PASSKEY, 401)
