"""The routine of a back-office POST that changes one thing and goes back to its page.

Staff accounts, webhook endpoints and API keys share it: check the action form (its CSRF
token), ask for re-authentication where the change needs it, run the change, commit, and go
back with what happened. A change refuses by raising ``ValueError`` (or the service's own
subclass of it) with words for the clerk; the refusal rolls back everything the change did, so
nothing half-done is kept.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect

from portal.backoffice.action_forms import ActionForm
from portal.backoffice.reauth import needs_reauth
from portal.extensions import db
from portal.i18n import gettext


def make_change(
    back: str,
    change: Callable[[], str],
    *,
    reauth: bool = True,
    refusals: tuple[type[Exception], ...] = (ValueError,),
):
    """Run ``change`` (which returns the words of its success) for the POST being answered,
    then redirect to ``back``: 400 without a valid action form; the re-authentication page
    first if ``reauth`` and it is due; the refusal's words if ``change`` raises one of
    ``refusals`` (a service's own refusal class, where it has one, so that any other error
    stays a logged 500)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if reauth and (stop := needs_reauth(back)) is not None:
        return stop
    try:
        message = change()
        db.session.commit()
    except refusals as problem:
        db.session.rollback()
        flash(gettext(str(problem)), "error")
    else:
        flash(message, "success")
    return redirect(back, code=303)
