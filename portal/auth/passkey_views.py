"""Passkey pages and ceremonies: register, rename and remove from the account page; a passkey
as the second factor at sign-in; passwordless sign-in where PASSKEY_SIGN_IN allows it.

Added to the sign-in blueprint (``portal.auth.views.bp``) when it is registered. The ceremonies
are JSON posted by static/js/auth/passkeys.js with the CSRF token in a header; the rules are
``portal.staff.passkeys``'s.
"""

from __future__ import annotations

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

from portal import audit
from portal.auth.passkey_forms import PasskeyNameForm, PasskeyRemoveForm
from portal.auth.views import BAD_LOGIN_MESSAGE, _login_rate_ip, bp, home_for
from portal.extensions import db, limiter
from portal.i18n import N_, gettext
from portal.models.staff import StaffUser
from portal.security import sessions
from portal.security.actors import client_origin, signed_in_actor
from portal.security.authz import Permission, has_permission
from portal.security.guards import login_required
from portal.security.passwords import verify_password
from portal.security.redirects import safe_next
from portal.sso import reauth as sso_reauth
from portal.sso import signin as sso_signin
from portal.staff import login as staff_login
from portal.staff import passkey_sign_in as sign_in_service
from portal.staff import passkeys
from portal.staff import reauth as staff_reauth
from portal.staff.reauth import ReauthOutcome, reauthenticate

#: The session cookie's key for the token naming the ceremony's server-side challenge.
_CEREMONY = "passkey_ceremony"
REMOVAL_REFUSED = N_(
    "Your password is not right. Failed attempts count towards locking the account."
)
THROUGH_PROVIDER = (
    "This account signs in through your organisation's account. Use that button on this page."
)
REMOVAL_PASSKEY_REFUSED = (
    "That passkey was not accepted. Failed attempts count towards locking the account."
)


def _credential() -> dict | None:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return None
    return body


def _refused(message: str, status: int, **extra) -> tuple[Response, int]:
    return jsonify(error=message, **extra), status


def _begin(options: passkeys.Options) -> Response:
    session[_CEREMONY] = options.token
    db.session.commit()
    return Response(options.json, mimetype="application/json")


# --- the account page -----------------------------------------------------------------------


@bp.post("/account/passkeys/options")
@login_required
def passkey_registration_options():
    if not passkeys.may_add(g.staff_session):
        return _refused(passkeys.ADD_NEEDS_RECENT_SIGN_IN, 403)
    return _begin(passkeys.registration_options(g.staff_user))


@bp.post("/account/passkeys")
@login_required
def passkey_register():
    if not passkeys.may_add(g.staff_session):
        session.pop(_CEREMONY, None)
        return _refused(passkeys.ADD_NEEDS_RECENT_SIGN_IN, 403)
    body = _credential()
    if body is None:
        return _refused("Something went wrong. Try again.", 400)
    try:
        passkey = passkeys.register(
            g.staff_user,
            session.pop(_CEREMONY, None),
            body["credential"],
            str(body.get("name") or ""),
            actor=signed_in_actor(),
        )
    except passkeys.PasskeyError as problem:
        db.session.commit()  # the audit row, and the challenge stays used
        return _refused(str(problem), 400)
    db.session.commit()
    flash(
        gettext("Passkey “%(name)s” added. You can use it to sign in.", name=passkey.name),
        "success",
    )
    return jsonify(redirect=url_for("auth.account") + "#passkeys")


@bp.post("/account/passkeys/<int:passkey_id>/rename")
@login_required
def passkey_rename(passkey_id: int):
    form = PasskeyNameForm()
    back = redirect(url_for("auth.account") + "#passkeys", code=303)
    if not form.validate_on_submit():
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return back
    try:
        passkey = passkeys.rename(g.staff_user, passkey_id, form.name.data, actor=signed_in_actor())
    except LookupError:
        abort(404)
    except passkeys.PasskeyError as problem:
        flash(gettext(str(problem)), "error")
        return back
    db.session.commit()
    flash(gettext("Passkey renamed to “%(name)s”.", name=passkey.name), "success")
    return back


@bp.route("/account/passkeys/<int:passkey_id>/remove", methods=["GET", "POST"])
@limiter.limit(_login_rate_ip, key_func=get_remote_address, methods=["POST"])
@login_required
def passkey_remove(passkey_id: int):
    """Removing a passkey asks the person to confirm it is them first, as strongly as the
    account allows: password and a fresh authenticator-app code (``portal.staff.reauth``, the
    back office's re-authentication), or the password alone where no app is enrolled; without
    a Postern password (single sign-on), a passkey or the provider's step-up
    (``_remove_without_password``). Someone at an unlocked screen must not take away the
    owner's way in, or hide a passkey they added.
    """
    user, row = g.staff_user, g.staff_session
    passkey = _own_passkey(user, passkey_id)
    if not staff_reauth.has_usable_password(user):
        return _remove_without_password(user, row, passkey)
    form = PasskeyRemoveForm()
    page = {"passkey": passkey, "form": form, "asks_code": user.mfa_enabled}
    if not form.validate_on_submit():
        return render_template("auth/passkey_remove.html", **page)
    outcome = _confirm_it_is_them(user, row, form)
    if outcome is ReauthOutcome.LOCKED:
        sessions.end_current_session("locked")
        db.session.commit()
        flash(gettext(BAD_LOGIN_MESSAGE), "error")
        return redirect(url_for("auth.login"), code=303)
    if outcome is not ReauthOutcome.OK:
        form.password.data = form.code.data = ""
        return render_template(
            "auth/passkey_remove.html", error=gettext(REMOVAL_REFUSED), **page
        ), 401
    _removed(user, passkey)
    return redirect(url_for("auth.account") + "#passkeys", code=303)


def _own_passkey(user, passkey_id: int):
    passkey = next((p for p in passkeys.passkeys_of(user.id) if p.id == passkey_id), None)
    if passkey is None:
        abort(404)
    return passkey


def _removed(user, passkey) -> None:
    name = passkey.name
    passkeys.remove(user, passkey.id, actor=signed_in_actor())
    db.session.commit()
    flash(
        gettext("Passkey “%(name)s” removed. It can no longer be used to sign in.", name=name),
        "success",
    )


def _remove_without_password(user, row, passkey):
    """An account made by single sign-on has no Postern password to confirm with. It confirms
    with a passkey (``passkey_remove_with_passkey``), or through its identity provider: the
    back office's step-up, which stamps the session (``portal.backoffice.sso_reauth``) and
    comes back here, where a recent stamp lets the removal go ahead."""
    confirmed = staff_reauth.is_recent(row.reauthenticated_at)
    form = FlaskForm()
    if confirmed and form.validate_on_submit():
        _removed(user, passkey)
        return redirect(url_for("auth.account") + "#passkeys", code=303)
    provider = sso_reauth.provider_for(user, row)
    # The step-up lives in the back office: offered to those who may open it.
    step_up = provider is not None and has_permission(user.role, Permission.BACKOFFICE_VIEW)
    page = {
        "passkey": passkey,
        "form": form,
        "without_password": True,
        "confirmed": confirmed,
        "sso_provider": provider if step_up else None,
    }
    return render_template("auth/passkey_remove.html", **page)


@bp.post("/account/passkeys/<int:passkey_id>/remove/options")
@limiter.limit(_login_rate_ip, key_func=get_remote_address)
@login_required
def passkey_remove_options(passkey_id: int):
    """Start confirming a removal with a passkey: for accounts without a Postern password."""
    user = g.staff_user
    _own_passkey(user, passkey_id)
    if staff_reauth.has_usable_password(user):
        abort(404)  # they confirm with their password (``passkey_remove``)
    return _begin(staff_reauth.passkey_options(user))


@bp.post("/account/passkeys/<int:passkey_id>/remove/passkey")
@limiter.limit(_login_rate_ip, key_func=get_remote_address)
@login_required
def passkey_remove_with_passkey(passkey_id: int):
    """Remove a passkey once one of the person's passkeys (user verified; it may be the one
    going) has confirmed it is them. Failures count towards the lockout."""
    user = g.staff_user
    passkey = _own_passkey(user, passkey_id)
    token = session.pop(_CEREMONY, None)
    body = _credential()
    if body is None or staff_reauth.has_usable_password(user):
        return _refused("Something went wrong. Try again.", 400)
    if staff_login.is_locked(user):
        return _locked_out()
    outcome = staff_reauth.check_passkey(user, token, body["credential"], origin=client_origin())
    if outcome is ReauthOutcome.LOCKED:
        return _locked_out()
    if outcome is not ReauthOutcome.OK:
        return _refused(REMOVAL_PASSKEY_REFUSED, 401)
    _removed(user, passkey)
    return jsonify(redirect=url_for("auth.account") + "#passkeys")


def _confirm_it_is_them(user, row, form) -> ReauthOutcome:
    """Password and app code (re-authentication proper), or the password alone for an account
    without the app. Failures count towards the lockout either way."""
    origin = client_origin()
    if user.mfa_enabled:
        return reauthenticate(user, row, form.password.data, form.code.data or "", origin=origin)
    if verify_password(user.password_hash, form.password.data):
        return ReauthOutcome.OK
    db.session.rollback()
    locked = staff_login.record_failure(user, "reauth_password", origin=origin)
    return ReauthOutcome.LOCKED if locked else ReauthOutcome.WRONG


# --- a passkey as the second factor ----------------------------------------------------------


@bp.post("/login/passkey/options")
@limiter.limit(_login_rate_ip, key_func=get_remote_address)
@login_required(allow_partial=True)
def passkey_second_factor_options():
    return _begin(sign_in_service.authentication_options("second_factor", g.staff_user))


@bp.post("/login/passkey")
@limiter.limit(_login_rate_ip, key_func=get_remote_address)
@login_required(allow_partial=True)
def passkey_second_factor():
    user, row = g.staff_user, g.staff_session
    body = _credential()
    if body is None:
        return _refused("Something went wrong. Try again.", 400)
    if row.mfa_verified:
        return jsonify(redirect=home_for(user))
    origin = client_origin()
    if staff_login.is_locked(user):
        return _locked_out()
    try:
        sign_in_service.authenticate(
            session.pop(_CEREMONY, None),
            body["credential"],
            "second_factor",
            user=user,
            origin=origin,
        )
    except sign_in_service.PasskeyRefused as refused:
        db.session.commit()
        if staff_login.record_failure(user, "passkey", origin=origin):
            return _locked_out()
        return _refused(str(refused), 401)
    sessions.mark_mfa_verified(row)
    staff_login.complete_login(user, factors="password+passkey", origin=origin)
    db.session.commit()
    return jsonify(redirect=safe_next(body.get("next"), home_for(user)))


def _locked_out():
    sessions.end_current_session("locked")
    db.session.commit()
    flash(gettext(BAD_LOGIN_MESSAGE), "error")
    return _refused(BAD_LOGIN_MESSAGE, 401, redirect=url_for("auth.login"))


# --- passwordless sign-in --------------------------------------------------------------------


def passwordless_allowed() -> bool:
    """PASSKEY_SIGN_IN on, and not single-sign-on-only mode: there the identity provider alone
    decides who gets in (a leaver removed there must not keep a way in here)."""
    config = current_app.config
    return bool(config.get("PASSKEY_SIGN_IN")) and not config.get("SSO_ONLY")


def _sign_in_allowed() -> None:
    if not passwordless_allowed():
        abort(404)


@bp.post("/login/passkey-sign-in/options")
@limiter.limit(_login_rate_ip, key_func=get_remote_address)
def passkey_sign_in_options():
    _sign_in_allowed()
    return _begin(sign_in_service.authentication_options("sign_in"))


@bp.post("/login/passkey-sign-in")
@limiter.limit(_login_rate_ip, key_func=get_remote_address)
def passkey_sign_in():
    """Sign in with a discoverable passkey alone. User verification is required, so the
    passkey (something you have) and the device's PIN or biometric (something you know or
    are) make two factors: the session counts as fully signed in."""
    _sign_in_allowed()
    body = _credential()
    if body is None:
        return _refused("Something went wrong. Try again.", 400)
    origin = client_origin()
    try:
        passkey = sign_in_service.authenticate(
            session.pop(_CEREMONY, None), body["credential"], "sign_in", origin=origin
        )
    except sign_in_service.PasskeyRefused as refused:
        db.session.commit()
        owner = db.session.get(StaffUser, refused.user_id) if refused.user_id else None
        if owner is not None:
            staff_login.record_failure(owner, "passkey", origin=origin)
        return _refused(str(refused), 401)
    user = db.session.get(StaffUser, passkey.user_id)
    if sso_signin.linked_to_a_provider(user.id):
        # Its provider re-applies the groups at every sign-in; a passkey alone would keep a
        # leaver's role here. Passkeys still serve such accounts as a second factor.
        audit.record(
            "auth.login_failed",
            outcome="failure",
            target_type="staff_user",
            target_id=user.id,
            details={"factor": "passkey", "reason": "signs_in_through_provider"},
            actor=audit.Actor.staff(user, origin),
        )
        db.session.commit()
        return _refused(THROUGH_PROVIDER, 401)
    if not user.is_active or staff_login.is_locked(user):
        audit.record(
            "auth.login_refused_locked" if user.is_active else "auth.login_failed",
            outcome="failure",
            target_type="staff_user",
            target_id=user.id,
            details={"factor": "passkey"},
            actor=audit.Actor.staff(user, origin),
        )
        db.session.commit()
        return _refused(BAD_LOGIN_MESSAGE, 401)
    sessions.start_session(user, mfa_verified=True)
    staff_login.complete_login(user, factors="passkey", origin=origin)
    db.session.commit()
    return jsonify(redirect=safe_next(body.get("next"), home_for(user)))
