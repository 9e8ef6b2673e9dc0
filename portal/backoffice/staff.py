"""Staff management for administrators: create accounts, change role and team, disable and
re-enable, reset the second factor or the password. Every change needs a recent
re-authentication and is audited by ``portal.staff.accounts``, which also refuses changes to
one's own account."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from sqlalchemy import select

from portal.backoffice import kept_forms
from portal.backoffice.action_forms import (
    ActionForm,
    StaffCreateForm,
    StaffPasswordResetForm,
    StaffUpdateForm,
)
from portal.backoffice.changes import make_change
from portal.backoffice.reauth import needs_reauth, recently_reauthenticated
from portal.backoffice.views import bp
from portal.extensions import db
from portal.i18n import gettext, ngettext
from portal.models.staff import StaffUser
from portal.security import sessions
from portal.security.actors import signed_in_actor
from portal.security.authz import Permission, mfa_required
from portal.security.guards import requires
from portal.security.passwords import PasswordPolicyError
from portal.staff import accounts, passkeys


def _user_or_404(staff_id: int) -> StaffUser:
    user = db.session.get(StaffUser, staff_id)
    if user is None:
        abort(404)
    return user


@bp.get("/staff")
@requires(Permission.STAFF_MANAGE)
def staff_list():
    users = db.session.execute(select(StaffUser).order_by(StaffUser.username)).scalars()
    return render_template(
        "backoffice/staff_list.html", users=list(users), with_passkeys=passkeys.owners()
    )


@bp.route("/staff/new", methods=["GET", "POST"])
@requires(Permission.STAFF_MANAGE)
def staff_new():
    form = kept_forms.restore(StaffCreateForm) or StaffCreateForm()
    if not form.validate_on_submit():
        status = 400 if form.errors else 200
        return render_template(
            "backoffice/staff_new.html", form=form, reauthenticated=recently_reauthenticated()
        ), status
    stop = needs_reauth(url_for("backoffice.staff_new"), form)
    if stop is not None:
        return stop
    try:
        user = accounts.create_staff(
            form.username.data,
            form.password.data,
            form.role.data,
            display_name=form.display_name.data,
            team=form.team.data,
            email=form.email.data or None,
            actor=signed_in_actor(),
        )
        db.session.commit()
    except (ValueError, PasswordPolicyError) as problem:
        db.session.rollback()
        form.password.data = form.confirm_password.data = ""
        return render_template(
            "backoffice/staff_new.html",
            form=form,
            error=_as_sentence(gettext(str(problem))),
            reauthenticated=True,
        ), 400
    if mfa_required(user.role):
        message = gettext(
            "Account %(username)s created as %(role)s. They must set up two-step verification "
            "at first sign-in.",
            username=user.username,
            role=user.role,
        )
    else:
        message = gettext(
            "Account %(username)s created as %(role)s.", username=user.username, role=user.role
        )
    flash(message, "success")
    return redirect(url_for("backoffice.staff_detail", staff_id=user.id), code=303)


@bp.get("/staff/<int:staff_id>")
@requires(Permission.STAFF_MANAGE)
def staff_detail(staff_id: int):
    user = _user_or_404(staff_id)
    form = StaffUpdateForm(role=user.role, team=user.team.name if user.team else "")
    return render_template(
        "backoffice/staff_detail.html",
        user=user,
        live_sessions=sessions.live_sessions(user.id),
        passkey_count=len(passkeys.passkeys_of(user.id)),
        form=form,
        action_form=ActionForm(),
        reset_form=StaffPasswordResetForm(),
        is_self=user.id == g.staff_user.id,
        reauthenticated=recently_reauthenticated(),
    )


def _change(staff_id: int, change) -> object:
    """Run ``change(user)`` for a staff POST (``make_change``: CSRF, re-authentication, the
    service's rules, commit) and go back to the account's page."""
    user = _user_or_404(staff_id)
    return make_change(url_for("backoffice.staff_detail", staff_id=user.id), lambda: change(user))


@bp.post("/staff/<int:staff_id>/update")
@requires(Permission.STAFF_MANAGE)
def staff_update(staff_id: int):
    form = StaffUpdateForm()

    def change(user: StaffUser) -> str:
        if not form.validate():
            raise ValueError(" ".join(str(e) for errors in form.errors.values() for e in errors))
        ended = None
        if form.role.data != user.role:
            ended = accounts.set_role(user, form.role.data, actor=signed_in_actor())
        team_changed = accounts.set_team(user, form.team.data, actor=signed_in_actor())
        words = {
            "username": user.username,
            "role": user.role,
            "team": user.team.name if user.team else gettext("none"),
        }
        # Whole sentences, singular and plural.
        if ended is not None and team_changed:
            return ngettext(
                "%(username)s: role is now %(role)s (%(num)d session ended); team is now %(team)s",
                "%(username)s: role is now %(role)s (%(num)d sessions ended); team is now %(team)s",
                ended,
                **words,
            )
        if ended is not None:
            return ngettext(
                "%(username)s: role is now %(role)s (%(num)d session ended)",
                "%(username)s: role is now %(role)s (%(num)d sessions ended)",
                ended,
                **words,
            )
        if team_changed:
            return gettext("%(username)s: team is now %(team)s", **words)
        return gettext("%(username)s: nothing changed", username=user.username)

    return _change(staff_id, change)


@bp.post("/staff/<int:staff_id>/disable")
@requires(Permission.STAFF_MANAGE)
def staff_disable(staff_id: int):
    def change(user: StaffUser) -> str:
        ended = accounts.disable(user, actor=signed_in_actor())
        return ngettext(
            "%(username)s is disabled; %(num)d session ended.",
            "%(username)s is disabled; %(num)d sessions ended.",
            ended,
            username=user.username,
        )

    return _change(staff_id, change)


@bp.post("/staff/<int:staff_id>/end-sessions")
@requires(Permission.STAFF_MANAGE)
def staff_end_sessions(staff_id: int):
    """The lost-device action: sign the account out everywhere, at once."""

    def change(user: StaffUser) -> str:
        ended = accounts.end_sessions(user, actor=signed_in_actor())
        return ngettext(
            "%(username)s is signed out everywhere; %(num)d session ended.",
            "%(username)s is signed out everywhere; %(num)d sessions ended.",
            ended,
            username=user.username,
        )

    return _change(staff_id, change)


@bp.post("/staff/<int:staff_id>/enable")
@requires(Permission.STAFF_MANAGE)
def staff_enable(staff_id: int):
    def change(user: StaffUser) -> str:
        accounts.enable(user, actor=signed_in_actor())
        return gettext("%(username)s can sign in again.", username=user.username)

    return _change(staff_id, change)


@bp.post("/staff/<int:staff_id>/reset-mfa")
@requires(Permission.STAFF_MANAGE)
def staff_reset_mfa(staff_id: int):
    def change(user: StaffUser) -> str:
        ended = accounts.reset_mfa(user, actor=signed_in_actor())
        return ngettext(
            "Two-step verification removed for %(username)s; %(num)d session ended. "
            "They set it up again at their next sign-in.",
            "Two-step verification removed for %(username)s; %(num)d sessions ended. "
            "They set it up again at their next sign-in.",
            ended,
            username=user.username,
        )

    return _change(staff_id, change)


@bp.post("/staff/<int:staff_id>/reset-password")
@requires(Permission.STAFF_MANAGE)
def staff_reset_password(staff_id: int):
    """Give the account a temporary password and show it to the administrator, once, on this
    response (never in a flash message: those travel in the session cookie)."""
    user = _user_or_404(staff_id)
    back = url_for("backoffice.staff_detail", staff_id=user.id)
    form = StaffPasswordResetForm()
    if not form.validate_on_submit():
        abort(400)
    stop = needs_reauth(back)
    if stop is not None:
        return stop
    try:
        reset = accounts.reset_password(
            user, lost_authenticator=form.lost_authenticator.data, actor=signed_in_actor()
        )
        db.session.commit()
    except ValueError as problem:
        db.session.rollback()
        flash(gettext(str(problem)), "error")
        return redirect(back, code=303)
    return render_template(
        "backoffice/staff_password_reset.html",
        user=user,
        reset=reset,
        enrols_again=reset.second_factor_reset and mfa_required(user.role),
    )


def _as_sentence(message: str) -> str:
    """``message`` with a capital first letter and a closing full stop. Not ``capitalize()``:
    that lowers every other letter ("Choose another." became "choose another.")."""
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."
