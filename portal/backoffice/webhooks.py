"""``/backoffice/webhooks``: administrators register the buyer's endpoints for outbound
webhooks, choose their events, enable and disable them, rotate their signing secret, read the
delivery log, send a delivery again and send a test event.

Views only: ``portal.hooks.endpoints`` does the work and audits it. Registering and rotating
hand out a secret, shown once on the response (never in a flash message, which travels in the
session cookie), so both need a recent re-authentication.
"""

from __future__ import annotations

from flask import abort, g, render_template, url_for
from sqlalchemy import select

from portal.backoffice import kept_forms
from portal.backoffice.action_forms import ActionForm
from portal.backoffice.changes import make_change
from portal.backoffice.reauth import needs_reauth, recently_reauthenticated
from portal.backoffice.views import bp
from portal.backoffice.webhook_forms import EndpointForm, EventTypesForm
from portal.extensions import db
from portal.hooks import endpoints as service
from portal.hooks.catalogue import EVENT_TYPES
from portal.i18n import gettext
from portal.models.hooks import HookAttempt, HookDelivery, HookEndpoint, HookEvent
from portal.models.staff import Team
from portal.security.actors import signed_in_actor
from portal.security.authz import Permission
from portal.security.guards import requires

LOG_LENGTH = 50


def _endpoint_or_404(endpoint_id: int) -> HookEndpoint:
    endpoint = db.session.get(HookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.get("/webhooks")
@requires(Permission.SETTINGS_MANAGE)
def webhooks():
    return render_template(
        "backoffice/webhooks.html", endpoints=service.all_endpoints(), host_of=service.host_of
    )


def _team_names() -> list[str]:
    return list(db.session.execute(select(Team.name).order_by(Team.name)).scalars())


@bp.route("/webhooks/new", methods=["GET", "POST"])
@requires(Permission.SETTINGS_MANAGE)
def webhook_new():
    teams = _team_names()
    form = kept_forms.restore(EndpointForm, teams=teams) or EndpointForm(teams=teams)
    if not form.is_submitted() and not form.event_types.raw_data:
        form.event_types.data = list(EVENT_TYPES)
    if not form.validate_on_submit():
        status = 400 if form.errors else 200
        return render_template(
            "backoffice/webhook_new.html", form=form, reauthenticated=recently_reauthenticated()
        ), status
    stop = needs_reauth(url_for("backoffice.webhook_new"), form)
    if stop is not None:
        return stop
    try:
        endpoint, secret = service.create_endpoint(
            form.url.data,
            form.event_types.data,
            actor=signed_in_actor(),
            description=form.description.data or "",
            team=service.team_named(form.chosen_team()),
            created_by_id=g.staff_user.id,
        )
        db.session.commit()
    except ValueError as problem:
        db.session.rollback()
        return render_template(
            "backoffice/webhook_new.html",
            form=form,
            error=gettext(str(problem)),
            reauthenticated=True,
        ), 400
    return render_template(
        "backoffice/webhook_secret.html", endpoint=endpoint, secret=secret, rotated=False
    )


@bp.get("/webhooks/<int:endpoint_id>")
@requires(Permission.SETTINGS_MANAGE)
def webhook_detail(endpoint_id: int):
    endpoint = _endpoint_or_404(endpoint_id)
    log = db.session.execute(
        select(HookAttempt, HookDelivery, HookEvent)
        .join(HookDelivery, HookDelivery.id == HookAttempt.delivery_id)
        .join(HookEvent, HookEvent.id == HookDelivery.event_id)
        .where(HookAttempt.endpoint_id == endpoint.id)
        .order_by(HookAttempt.id.desc())
        .limit(LOG_LENGTH)
    ).all()
    waiting = db.session.execute(
        select(HookDelivery, HookEvent)
        .join(HookEvent, HookEvent.id == HookDelivery.event_id)
        .where(HookDelivery.endpoint_id == endpoint.id, HookDelivery.attempts == 0)
        .order_by(HookDelivery.id.desc())
        .limit(LOG_LENGTH)
    ).all()
    return render_template(
        "backoffice/webhook_detail.html",
        endpoint=endpoint,
        host=service.host_of(endpoint.url),
        types_form=EventTypesForm(event_types=list(endpoint.event_types)),
        action_form=ActionForm(),
        log=log,
        waiting=waiting,
        reauthenticated=recently_reauthenticated(),
    )


def _change(endpoint_id: int, change, *, reauth: bool = False):
    """Run ``change(endpoint)`` for a webhooks POST (``make_change``: CSRF, re-authentication
    if asked, the service's rules, commit) and go back to the endpoint's page."""
    endpoint = _endpoint_or_404(endpoint_id)
    back = url_for("backoffice.webhook_detail", endpoint_id=endpoint.id)
    return make_change(back, lambda: change(endpoint), reauth=reauth)


@bp.post("/webhooks/<int:endpoint_id>/events")
@requires(Permission.SETTINGS_MANAGE)
def webhook_events(endpoint_id: int):
    form = EventTypesForm()

    def change(endpoint: HookEndpoint) -> str:
        if not form.validate():
            raise ValueError(" ".join(str(e) for errors in form.errors.values() for e in errors))
        if service.set_event_types(endpoint, form.event_types.data, signed_in_actor()):
            return gettext("The events sent to this endpoint were changed.")
        return gettext("Nothing changed.")

    return _change(endpoint_id, change)


@bp.post("/webhooks/<int:endpoint_id>/disable")
@requires(Permission.SETTINGS_MANAGE)
def webhook_disable(endpoint_id: int):
    def change(endpoint: HookEndpoint) -> str:
        service.disable(endpoint, signed_in_actor())
        return gettext(
            "The endpoint is disabled. What it was owed waits until it is enabled again; "
            "new events are not queued for it meanwhile."
        )

    return _change(endpoint_id, change)


@bp.post("/webhooks/<int:endpoint_id>/enable")
@requires(Permission.SETTINGS_MANAGE)
def webhook_enable(endpoint_id: int):
    def change(endpoint: HookEndpoint) -> str:
        service.enable(endpoint, signed_in_actor())
        return gettext("The endpoint is enabled. What waited is being sent now.")

    return _change(endpoint_id, change)


@bp.post("/webhooks/<int:endpoint_id>/test")
@requires(Permission.SETTINGS_MANAGE)
def webhook_test(endpoint_id: int):
    def change(endpoint: HookEndpoint) -> str:
        delivery = service.send_test_event(endpoint, signed_in_actor())
        return gettext("A test event (%(event)s) is on its way.", event=delivery.event.public_id)

    return _change(endpoint_id, change)


@bp.post("/webhooks/<int:endpoint_id>/rotate")
@requires(Permission.SETTINGS_MANAGE)
def webhook_rotate(endpoint_id: int):
    endpoint = _endpoint_or_404(endpoint_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    stop = needs_reauth(url_for("backoffice.webhook_detail", endpoint_id=endpoint.id))
    if stop is not None:
        return stop
    secret = service.rotate_secret(endpoint, signed_in_actor())
    db.session.commit()
    return render_template(
        "backoffice/webhook_secret.html", endpoint=endpoint, secret=secret, rotated=True
    )


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
@requires(Permission.SETTINGS_MANAGE)
def webhook_replay(delivery_id: int):
    delivery = db.session.get(HookDelivery, delivery_id)
    if delivery is None:
        abort(404)

    def change(endpoint: HookEndpoint) -> str:
        service.replay(delivery, signed_in_actor())
        return gettext(
            "Delivery %(id)s (%(type)s) will be sent again shortly.",
            id=delivery.id,
            type=delivery.event.type,
        )

    return _change(delivery.endpoint_id, change)
