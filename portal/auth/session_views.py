"""The account page's sessions section: "sign out everywhere else".

Added to the sign-in blueprint (``portal.auth.views.bp``) when it is registered.
"""

from __future__ import annotations

from flask import flash, g, redirect, url_for

from portal import audit
from portal.auth.views import bp
from portal.extensions import db
from portal.i18n import gettext, ngettext
from portal.security import sessions
from portal.security.actors import signed_in_actor
from portal.security.devices import approximate_address
from portal.security.guards import login_required

#: ``staff_sessions.end_reason`` of the sessions a person ends from another device.
SIGNED_OUT_ELSEWHERE = "signed_out_elsewhere"


@bp.post("/account/sessions/sign-out-others")
@login_required
def sign_out_other_sessions():
    """End every session of the signed-in person except this one. Each ended session sees it
    on its next request, on any app process (the session rows are the only state)."""
    user, row = g.staff_user, g.staff_session
    ended = sessions.end_user_sessions(user.id, SIGNED_OUT_ELSEWHERE, keep=row)
    audit.record(
        "auth.other_sessions_ended",
        target_type="staff_user",
        target_id=user.id,
        details={"sessions_ended": ended},
        actor=signed_in_actor(),
    )
    db.session.commit()
    if ended:
        flash(
            ngettext(
                "Signed out of %(num)d other session.",
                "Signed out of %(num)d other sessions.",
                ended,
            ),
            "success",
        )
    else:
        flash(gettext("You were not signed in anywhere else."), "info")
    return redirect(url_for("auth.account") + "#sessions", code=303)


# Pages show a session's address masked to its network (the account page, the staff page).
bp.add_app_template_filter(approximate_address, "approximate_address")
