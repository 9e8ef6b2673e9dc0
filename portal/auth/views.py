"""Login, second factor, logout, MFA enrolment and password change."""

from __future__ import annotations

import hashlib

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter.util import get_remote_address

from portal import audit
from portal.auth.forms import CodeForm, LoginForm, PasswordChangeForm
from portal.extensions import db, limiter
from portal.i18n import N_, gettext
from portal.security import sessions
from portal.security.actors import client_origin, signed_in_actor
from portal.security.authz import Permission, has_permission, mfa_required
from portal.security.guards import login_required
from portal.security.headers import sign_in_page
from portal.security.passwords import PasswordPolicyError, verify_password
from portal.security.redirects import safe_next
from portal.sso import client as sso_client
from portal.staff import login as staff_login
from portal.staff import mfa, passkeys

bp = Blueprint("auth", __name__)

#: Plain ``str`` (the passkey sign-in's JSON answers with it too): translated where shown.
BAD_LOGIN_MESSAGE = N_(
    "The username or password is not right. After 10 failed attempts an account is locked "
    "for 30 minutes."
)
SSO_ONLY_MESSAGE = N_("Sign in with your organisation's account, using the button above.")
TIMEOUT_MESSAGES = {
    "idle_timeout": N_("You were signed out after 15 minutes without activity."),
    "absolute_timeout": N_("Your session reached its maximum length. Please sign in again."),
    "password_changed": N_("Your password was changed, so this session ended. Sign in again."),
    "account_disabled": N_("This account has been disabled."),
    "mfa_timeout": N_("The sign-in took too long. Please start again."),
    "provider_logout": N_(
        "You signed out of your organisation's account, so Postern signed you out too."
    ),
    "sso_access_removed": N_("Your organisation has removed your access to Postern."),
    "password_reset": N_(
        "An administrator reset your password, so this session ended. Sign in with the "
        "temporary password they gave you."
    ),
    "ended_by_admin": N_(
        "An administrator signed you out on all your devices. Sign in again if you still need to."
    ),
    "signed_out_elsewhere": N_("You signed out of this device from another one. Sign in again."),
}


def _login_rate_ip() -> str:
    return current_app.config["RATELIMIT_LOGIN_PER_IP"]


def _login_rate_account() -> str:
    return current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"]


def _account_key() -> str:
    # Hashed: people type passwords into the username box, and limiter keys live in Redis.
    typed = staff_login.normalise_username(request.form.get("username", ""))[:64]
    return "login-account:" + hashlib.sha256(typed.encode()).hexdigest()[:24]


def _staff_key() -> str:
    user = g.get("staff_user")
    return f"staff:{user.id}" if user is not None else get_remote_address()


def home_for(user) -> str:
    if has_permission(user.role, Permission.CAPTURE_CREATE):
        return url_for("agent.console")
    return url_for("backoffice.home")


@bp.get("/")
def index():
    user = g.get("staff_user")
    if user is None:
        return redirect(url_for("auth.login"))
    return redirect(home_for(user))


def _after_full_login(user, next_url: str | None):
    return redirect(safe_next(next_url, home_for(user)))


@bp.route("/login", methods=["GET", "POST"])
@sign_in_page
@limiter.limit(_login_rate_ip, key_func=get_remote_address, methods=["POST"])
@limiter.limit(_login_rate_account, key_func=_account_key, methods=["POST"])
def login():
    form = LoginForm()
    next_url = request.args.get("next")
    if request.method == "GET":
        ended_reason = sessions.pop_end_reason()
        if ended_reason in TIMEOUT_MESSAGES:
            flash(gettext(TIMEOUT_MESSAGES[ended_reason]), "info")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, next=next_url)
    origin = client_origin()
    if not sso_client.password_sign_in_allowed(form.username.data):
        # SSO-only mode: the password is not even checked (the typed name is not logged).
        audit.record(
            "auth.password_sign_in_refused",
            outcome="failure",
            details={"reason": "sso_only"},
            actor=audit.ANONYMOUS.at(origin),
        )
        db.session.commit()
        form.password.data = ""
        return render_template(
            "auth/login.html", form=form, next=next_url, error=gettext(SSO_ONLY_MESSAGE)
        ), 403
    result = staff_login.check_password(form.username.data, form.password.data, origin=origin)
    if result.outcome is not staff_login.LoginOutcome.OK:
        form.password.data = ""
        return render_template(
            "auth/login.html", form=form, next=next_url, error=gettext(BAD_LOGIN_MESSAGE)
        ), 401
    user = result.user
    if user.has_second_factor:  # an authenticator app or a passkey
        sessions.start_session(user, mfa_verified=False)
        db.session.commit()
        return redirect(url_for("auth.mfa_verify", next=safe_next(next_url, "") or None))
    if mfa_required(user.role):
        sessions.start_session(user, mfa_verified=False)
        audit.record(
            "auth.mfa_enrolment_required",
            target_type="staff_user",
            target_id=user.id,
            actor=audit.Actor.staff(user, origin),
        )
        db.session.commit()
        return redirect(url_for("auth.mfa_setup"))
    sessions.start_session(user, mfa_verified=True)
    staff_login.complete_login(user, factors="password", origin=origin)
    db.session.commit()
    return _after_full_login(user, next_url)


@bp.route("/login/mfa", methods=["GET", "POST"])
@limiter.limit(_login_rate_ip, key_func=get_remote_address, methods=["POST"])
@login_required(allow_partial=True)
def mfa_verify():
    user, row = g.staff_user, g.staff_session
    if row.mfa_verified:
        return redirect(home_for(user))
    if not user.has_second_factor:
        return redirect(url_for("auth.mfa_setup"))
    if staff_login.is_locked(user):
        return _end_locked_partial_session()
    form = CodeForm()
    # Which second factors the page offers: the app's code, passkeys, or both.
    choices = {"has_totp": user.mfa_enabled, "has_passkeys": bool(passkeys.passkeys_of(user.id))}
    if not form.validate_on_submit():
        return render_template("auth/mfa_verify.html", form=form, **choices)
    code = form.code.data
    method = None
    if mfa.verify_totp(user, code):
        method = "totp"
    elif mfa.use_recovery_code(user, code):
        method = "recovery_code"
    if method is None:
        db.session.rollback()
        locked = staff_login.record_failure(user, "totp", origin=client_origin())
        if locked:
            return _end_locked_partial_session()
        return render_template(
            "auth/mfa_verify.html",
            form=form,
            error="That code is not right, or was already used.",
            **choices,
        ), 401
    sessions.mark_mfa_verified(row)
    staff_login.complete_login(user, factors=f"password+{method}", origin=client_origin())
    if method == "recovery_code":
        audit.record(
            "auth.recovery_code_used",
            target_type="staff_user",
            target_id=user.id,
            details={"remaining": mfa.remaining_recovery_codes(user)},
            actor=audit.Actor.staff(user, client_origin()),
        )
    db.session.commit()
    return _after_full_login(user, request.args.get("next"))


def _end_locked_partial_session():
    """A password-only session cannot finish signing in once the account is locked (even when
    the lock came from failures elsewhere): end it and say what the login page says."""
    sessions.end_current_session("locked")
    db.session.commit()
    flash(gettext(BAD_LOGIN_MESSAGE), "error")
    return redirect(url_for("auth.login"))


@bp.post("/logout")
def logout():
    user = g.get("staff_user")
    if user is not None:
        audit.record(
            "auth.logout", target_type="staff_user", target_id=user.id, actor=signed_in_actor()
        )
    sessions.end_current_session("logout")
    db.session.commit()
    flash(gettext("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/mfa/setup", methods=["GET", "POST"])
@login_required(allow_partial=True)
def mfa_setup():
    """Enrol a TOTP authenticator: scan the QR code, prove one code, receive recovery codes."""
    user, row = g.staff_user, g.staff_session
    if user.mfa_enabled:
        flash(gettext("Two-step verification is already on for this account."), "info")
        return redirect(url_for("auth.account"))
    if not row.mfa_verified and not mfa_required(user.role):
        return redirect(url_for("auth.mfa_verify"))
    if not row.mfa_verified and staff_login.is_locked(user):
        return _end_locked_partial_session()
    if not user.totp_secret:
        user.totp_secret = mfa.new_secret()
        db.session.commit()
    form = CodeForm()
    if form.validate_on_submit():
        if mfa.verify_totp(user, form.code.data):
            user.mfa_enabled = True
            codes = mfa.issue_recovery_codes(user)
            audit.record(
                "auth.mfa_enrolled",
                target_type="staff_user",
                target_id=user.id,
                actor=signed_in_actor(),
            )
            first_factor_only = not row.mfa_verified
            new_row = sessions.mark_mfa_verified(row)
            g.staff_session = new_row
            if first_factor_only:
                staff_login.complete_login(
                    user, factors="password+totp_enrolment", origin=client_origin()
                )
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes, next=home_for(user))
        db.session.rollback()
        audit.record(
            "auth.mfa_enrolment_failed",
            outcome="failure",
            target_type="staff_user",
            target_id=user.id,
            actor=signed_in_actor(),
        )
        db.session.commit()
        return render_template(
            "auth/mfa_setup.html",
            form=form,
            secret=user.totp_secret,
            required=mfa_required(user.role),
            error="That code is not right. Check the time on your phone and try the next code.",
        ), 400
    return render_template(
        "auth/mfa_setup.html",
        form=form,
        secret=user.totp_secret,
        required=mfa_required(user.role),
    )


@bp.get("/account/mfa/qr.svg")
@login_required(allow_partial=True)
def mfa_qr():
    user = g.staff_user
    if user.mfa_enabled or not user.totp_secret:
        return Response(status=404)
    return Response(mfa.qr_svg(user), mimetype="image/svg+xml")


@bp.get("/account")
@login_required
def account():
    user = g.staff_user
    return render_template(
        "auth/account.html",
        user=user,
        recovery_remaining=mfa.remaining_recovery_codes(user) if user.mfa_enabled else 0,
        live_sessions=sessions.live_sessions(user.id),
        this_session_id=g.staff_session.id,
        passkeys=passkeys.passkeys_of(user.id),
        may_add_passkey=passkeys.may_add(g.staff_session),
        add_needs_recent_sign_in=gettext(passkeys.ADD_NEEDS_RECENT_SIGN_IN),
        passkey_sign_in=current_app.config.get("PASSKEY_SIGN_IN", False)
        and not current_app.config.get("SSO_ONLY", False),
    )


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(_login_rate_account, key_func=_staff_key, methods=["POST"])
@login_required
def change_password():
    user, row = g.staff_user, g.staff_session
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return render_template("auth/change_password.html", form=form)
    if not verify_password(user.password_hash, form.current_password.data):
        staff_login.record_failure(user, "password_change", origin=client_origin())
        form.current_password.errors.append(gettext("Your current password is not right."))
        return render_template("auth/change_password.html", form=form), 400
    was_temporary = user.password_must_change
    try:
        staff_login.set_password(user, form.new_password.data)
    except PasswordPolicyError as problem:
        form.new_password.errors.append(gettext(str(problem)))
        return render_template("auth/change_password.html", form=form), 400
    ended = sessions.end_user_sessions(user.id, "password_changed", keep=row)
    audit.record(
        "auth.password_changed",
        target_type="staff_user",
        target_id=user.id,
        details={"other_sessions_ended": ended},
        actor=signed_in_actor(),
    )
    db.session.commit()
    if was_temporary:
        flash(gettext("Your new password is set. Use it from now on."), "success")
        return redirect(home_for(user))
    flash(
        gettext("Your password has been changed. Any other sessions have been signed out."),
        "success",
    )
    return redirect(url_for("auth.account"))
