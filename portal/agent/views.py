"""The agent console: create capture requests and watch them live.

One screen: the create form and the agent's recent requests, each with a status panel that
``static/js/agent/console.js`` refreshes from ``/agent/api/requests`` (ETag + 304), so it works
with any number of app processes: the state lives only in the database.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import joinedload

from portal import live_push
from portal.agent import fast_status
from portal.agent.forms import ActionForm, CreateRequestForm, ExtendForm, ResendForm
from portal.agent.prefill import prefilled_form
from portal.capture import console_list, identity, service, visibility
from portal.capture.console_list import ListFilter
from portal.capture.service import CaptureError, DuplicateSubmission, IssuedLink
from portal.extensions import db
from portal.i18n import gettext
from portal.live_push import stream as push_stream
from portal.live_status.panel import local_time, panel_data, panels, with_deliveries
from portal.payments import service as payments
from portal.payments.gateway import StripeGateway
from portal.security.actors import client_origin, signed_in_actor
from portal.security.authz import Permission, has_permission
from portal.security.guards import gate_blueprint, requires

bp = Blueprint("agent", __name__)
gate_blueprint(bp, Permission.CAPTURE_VIEW_OWN)


def _panels(requests) -> list[dict]:
    expired_any = False
    origin = client_origin()
    for item in requests:
        expired_any = service.expire_if_due(item, origin=origin) or expired_any
    if expired_any:
        db.session.commit()
    return panels(requests)


def _qr_data_uri(url: str) -> str:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=4, dark="#111", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _render_console(
    form=None,
    issued: IssuedLink | None = None,
    status: int = 200,
    error: str | None = None,
    prefill_problems: list[str] | None = None,
    wanted: ListFilter | None = None,
    focus: str | None = None,
):
    user = g.staff_user
    wanted = wanted or ListFilter()
    listed = console_list.own_requests(user, wanted, with_deliveries())
    mine = _panels(listed.requests)
    team = _panels(visibility.recent_for(user, with_deliveries(), team=True))
    issued_view = None
    if issued is not None:
        issued_view = {
            "url": issued.url,
            "qr": _qr_data_uri(issued.url),
            "panel": panel_data(issued.request),
            "length": len(issued.url),
        }
    return render_template(
        "agent/console.html",
        form=form or CreateRequestForm(),
        error=error,
        prefilled=prefill_problems is not None,
        prefill_problems=prefill_problems or [],
        mine=mine,
        listed=listed,
        state_filters=console_list.STATE_FILTERS,
        focus=focus,
        team=team,
        issued=issued_view,
        can_create=has_permission(user.role, Permission.CAPTURE_CREATE),
        can_manage=has_permission(user.role, Permission.CAPTURE_MANAGE),
        resend_form=ResendForm(),
        extend_form=ExtendForm(),
        action_form=ActionForm(),
        # Pushed panels where PostgreSQL can tell us of changes; the console polls otherwise.
        stream_url=url_for("agent.api_stream")
        if live_push.push_available(current_app.config)
        else None,
    ), status


@bp.get("/")
def console():
    # ``created``: the request just made, whose panel takes the keyboard focus (an agent on a
    # call goes straight on to read its status and read-back code).
    return _render_console(
        wanted=ListFilter.from_args(request.args), focus=request.args.get("created")
    )


@bp.get("/new")
@requires(Permission.CAPTURE_CREATE)
def new():
    """Click-to-create from a CRM: the form filled in from the query; nothing is created until
    the agent presses "Create and send" (``portal.agent.prefill``)."""
    form, problems = prefilled_form(request.args)
    return _render_console(form, prefill_problems=problems)


@bp.post("/requests")
@requires(Permission.CAPTURE_CREATE)
def create():
    form = CreateRequestForm()
    if not form.validate_on_submit():
        return _render_console(form, status=400)
    try:
        issued = service.create_request(g.staff_user, form.spec(), actor=signed_in_actor())
    except DuplicateSubmission:
        db.session.rollback()
        flash(gettext("That request was already created (the form was sent twice)."), "info")
        return redirect(url_for("agent.console"))
    except CaptureError as problem:
        db.session.rollback()
        return _render_console(form, status=400, error=gettext(str(problem)))
    except ValueError as problem:  # the outbox refused the destination or the channel
        db.session.rollback()
        form.destination.errors.append(gettext(str(problem)))
        return _render_console(form, status=400)
    # Read before the commit expires the row: the redirect then costs no further query.
    channel, code, public_id = (
        issued.request.link_channel,
        identity.display_readback(issued.request.readback_code),
        issued.request.public_id,
    )
    db.session.commit()
    if channel != "copy":
        flash(
            gettext(
                "Request created and the link is on its way. Read-back code: %(code)s.", code=code
            ),
            "success",
        )
        return redirect(url_for("agent.console", created=public_id))
    return _render_console(CreateRequestForm(formdata=None), issued=issued, status=201)


def _visible_or_404(public_id: str, *options):
    found = visibility.find_visible(g.staff_user, public_id, *options)
    if found is None:
        abort(404)
    return found


@bp.post("/requests/<public_id>/revoke")
@requires(Permission.CAPTURE_MANAGE)
def revoke(public_id: str):
    capture = _visible_or_404(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    actor = signed_in_actor()
    response = _act(
        lambda: service.revoke(capture, actor=actor),
        gettext("Request revoked: its link no longer works."),
    )
    # A PaymentIntent already made for the customer must never be charged now: cancel it at
    # Stripe at once (if Stripe is unreachable, reconcile cancels it later).
    payments.stop_quietly(capture, gateway=StripeGateway.for_app(), actor=actor)
    return response


@bp.post("/requests/<public_id>/extend")
@requires(Permission.CAPTURE_MANAGE)
def extend(public_id: str):
    capture = _visible_or_404(public_id)
    form = ExtendForm()
    if not form.validate_on_submit():
        abort(400)
    return _act(
        lambda: service.extend(capture, form.minutes.data, actor=signed_in_actor()),
        lambda expiry: gettext(
            "Extended: the link now works until %(time)s.", time=local_time(expiry)
        ),
    )


@bp.post("/requests/<public_id>/resend")
@requires(Permission.CAPTURE_MANAGE)
def resend(public_id: str):
    capture = _visible_or_404(public_id)
    form = ResendForm()
    if not form.validate_on_submit():
        errors = form.destination.errors or form.channel.errors
        message = " ".join(str(error) for error in errors) or gettext("Check the form.")
        flash(gettext("The link was not re-sent: %(problem)s", problem=message), "error")
        return redirect(url_for("agent.console"))
    try:
        issued = service.resend(
            capture, form.channel.data, form.destination.data, actor=signed_in_actor()
        )
    except ValueError as problem:
        db.session.rollback()
        flash(
            gettext("The link was not re-sent: %(problem)s", problem=gettext(str(problem))),
            "error",
        )
        return redirect(url_for("agent.console"))
    db.session.commit()
    if form.channel.data == "copy":
        return _render_console(issued=issued)
    flash(gettext("A new link is on its way; the old one no longer works."), "success")
    return redirect(url_for("agent.console"))


def _act(action, message):
    try:
        result = action()
    except CaptureError as problem:
        db.session.rollback()
        flash(gettext(str(problem)), "error")
        return redirect(url_for("agent.console"))
    db.session.commit()
    flash(message(result) if callable(message) else message, "success")
    return redirect(url_for("agent.console"))


# --- the live status API the console polls ------------------------------------------------


def _json_with_etag(payload: dict, etag: str | None = None):
    """``payload`` as JSON, or 304 when the poll already has it. ``etag``: the panel's
    version read from the database (``fast_status.version_etag``); by default a digest of the
    body."""
    if etag is None:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    if etag in request.if_none_match:
        response = fast_status.not_modified()
    else:
        response = jsonify(payload)
    response.set_etag(etag)
    return response


@bp.get("/api/requests")
def api_requests():
    """The caller's requests as the console lists them (the same ``state``, ``q`` and ``page``
    as the page), their team's for supervisors, and under ``shown`` any other panel the page
    still shows (``shown=ID,ID``: one that stopped matching the filter), as panel data."""
    user = g.staff_user
    wanted = ListFilter.from_args(request.args)
    mine = console_list.own_requests(user, wanted, with_deliveries()).requests
    team = visibility.recent_for(user, with_deliveries(), team=True)
    listed = {item.public_id for item in [*mine, *team]}
    asked = [part.strip() for part in request.args.get("shown", "").split(",")]
    others = [
        item
        for item in console_list.shown_requests(user, asked, with_deliveries())
        if item.public_id not in listed
    ]
    return _json_with_etag({"mine": _panels(mine), "team": _panels(team), "shown": _panels(others)})


@bp.before_app_request
def _status_fast_path():
    """The status poll answered in one statement when nothing is unusual
    (``portal.agent.fast_status``). An app-wide hook, so it runs before the staff session is
    loaded the long way (``portal.init_staff_sessions``); every other request passes by."""
    if request.endpoint == "agent.api_status":
        return fast_status.answer(request.view_args["public_id"])
    return None


@bp.get("/api/requests/<public_id>/status")
def api_status(public_id: str):
    # On PostgreSQL the ETag is the panel's version, as the fast path gives it, read before the
    # panel is: the two paths must agree, or a poll would never see a 304.
    etag = fast_status.version_etag(public_id)
    capture = _visible_or_404(public_id, with_deliveries(joinedload))
    return _json_with_etag(_panels([capture])[0], etag)


@bp.get("/api/stream")
def api_stream():
    """The caller's panels pushed as they change, as Server-Sent Events
    (``portal.live_push.stream``). Where this process serves no streams (the app's own
    workers, SQLite, push off), one ``unavailable`` event: the console then polls, and does not
    ask again until the page is loaded anew."""
    app = current_app._get_current_object()
    hub = live_push.hub_for(app)
    if hub is None:
        body = iter([push_stream.event("unavailable", "polling")])
    else:
        viewer = push_stream.viewer_for(g.staff_user, g.staff_session)
        deadline = push_stream.deadline_of(g.staff_session, app.config)
        body = push_stream.events(app, hub, viewer, deadline)
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
