"""``/backoffice/reauth``: confirm it's you (password and a fresh code) before a sensitive
action. Other back-office views call ``needs_reauth()`` first and, when it returns a
response, return that: the person comes back to the page they were on afterwards."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address

from portal.backoffice.action_forms import ReauthForm
from portal.backoffice.views import bp
from portal.extensions import db, limiter
from portal.security import sessions
from portal.security.actors import client_origin
from portal.security.redirects import safe_next
from portal.staff.reauth import ReauthOutcome, is_recent, reauthenticate

WRONG = "The password or the code is not right. Failed attempts count towards locking the account."
LOCKED = "Too many failed attempts: the account is locked for 30 minutes. Sign in again later."
NO_SECOND_FACTOR = (
    "Your account has no two-step verification, so it cannot confirm sensitive actions. "
    "Turn it on from your account page first."
)


def _staff_key() -> str:
    user = g.get("staff_user")
    return f"reauth:{user.id}" if user is not None else get_remote_address()


def _rate() -> str:
    return current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"]


def recently_reauthenticated() -> bool:
    row = g.get("staff_session")
    return row is not None and is_recent(row.reauthenticated_at)


def ask_for_reauth(back_to: str):
    """A redirect to the re-authentication page that returns to ``back_to`` afterwards."""
    flash(
        "For your security, confirm it is you. You will then be taken back to finish what you"
        " were doing.",
        "info",
    )
    return redirect(url_for("backoffice.reauth", next=back_to), code=303)


def needs_reauth(back_to: str):
    """None if the current session re-authenticated recently enough; otherwise a redirect to
    the re-authentication page that returns to ``back_to`` (a path on this site)."""
    return None if recently_reauthenticated() else ask_for_reauth(back_to)


@bp.route("/reauth", methods=["GET", "POST"])
@limiter.limit(_rate, key_func=_staff_key, methods=["POST"])
def reauth():
    user, row = g.staff_user, g.staff_session
    back_to = safe_next(request.args.get("next"), url_for("backoffice.home"))
    form = ReauthForm()
    if not user.mfa_enabled:
        return render_template("backoffice/reauth.html", form=None, error=NO_SECOND_FACTOR)
    if not form.validate_on_submit():
        return render_template("backoffice/reauth.html", form=form, back_to=back_to)
    outcome = reauthenticate(user, row, form.password.data, form.code.data, origin=client_origin())
    if outcome is ReauthOutcome.OK:
        return redirect(back_to, code=303)
    if outcome is ReauthOutcome.LOCKED:
        sessions.end_current_session("locked")
        db.session.commit()
        flash(LOCKED, "error")
        return redirect(url_for("auth.login"), code=303)
    form.password.data = ""
    form.code.data = ""
    return render_template("backoffice/reauth.html", form=form, back_to=back_to, error=WRONG), 401
