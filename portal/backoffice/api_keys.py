"""``/backoffice/api-keys``: administrators create and revoke the integration API's keys.

Views only: ``portal.api_keys.service`` does the work and audits it. A new key is shown once,
on the response (never in a flash message, which travels in the session cookie); creating
and revoking need a recent re-authentication.
"""

from __future__ import annotations

from flask import abort, g, render_template, url_for

# The blueprint first: importing this module alone must load views.py (which imports the
# re-authentication pages) before reauth.py asks views.py for the blueprint.
from portal.backoffice import kept_forms
from portal.backoffice.views import bp

# isort: split
from sqlalchemy import select

from portal.api_keys import service
from portal.api_keys.scopes import SCOPES
from portal.backoffice.action_forms import ActionForm
from portal.backoffice.api_key_forms import ApiKeyForm
from portal.backoffice.changes import make_change
from portal.backoffice.reauth import needs_reauth, recently_reauthenticated
from portal.extensions import db
from portal.i18n import gettext
from portal.models.api_key import ApiKey
from portal.models.staff import Team
from portal.security.actors import signed_in_actor
from portal.security.authz import Permission
from portal.security.guards import requires


def _teams() -> list[Team]:
    return list(db.session.execute(select(Team).order_by(Team.name)).scalars())


def _page(form: ApiKeyForm, status: int = 200, error: str | None = None):
    return render_template(
        "backoffice/api_keys.html",
        form=form,
        keys=service.all_keys(),
        scopes=SCOPES,
        action_form=ActionForm(),
        error=gettext(error) if error else error,  # a service's message, marked where raised
        reauthenticated=recently_reauthenticated(),
    ), status


@bp.get("/api-keys")
@requires(Permission.SETTINGS_MANAGE)
def api_keys():
    teams = _teams()
    return _page(
        kept_forms.restore(ApiKeyForm, teams=teams) or ApiKeyForm(teams=teams, formdata=None)
    )


@bp.post("/api-keys")
@requires(Permission.SETTINGS_MANAGE)
def api_key_create():
    form = ApiKeyForm(teams=_teams())
    if not form.validate_on_submit():
        return _page(form, 400)
    stop = needs_reauth(url_for("backoffice.api_keys"), form)
    if stop is not None:
        return stop
    team = db.session.get(Team, form.team.data)
    try:
        created = service.create_key(
            form.name.data, team, form.scopes.data, created_by=g.staff_user, actor=signed_in_actor()
        )
    except service.ApiKeyError as problem:
        db.session.rollback()
        return _page(form, 400, str(problem))
    prefix, name, text = created.key.prefix, created.key.name, created.text
    db.session.commit()
    return render_template(
        "backoffice/api_key_secret.html", prefix=prefix, name=name, team=team.name, key_text=text
    )


@bp.post("/api-keys/<int:key_id>/revoke")
@requires(Permission.SETTINGS_MANAGE)
def api_key_revoke(key_id: int):
    key = db.session.get(ApiKey, key_id)
    if key is None:
        abort(404)

    def revoke() -> str:
        service.revoke(key, revoked_by=g.staff_user, actor=signed_in_actor())
        return gettext("API key %(prefix)s revoked: it no longer works.", prefix=key.prefix)

    return make_change(url_for("backoffice.api_keys"), revoke, refusals=(service.ApiKeyError,))
