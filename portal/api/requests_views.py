"""``/api/v1/requests``: create, read, revoke, extend and resend capture requests (the list:
``listing_views``).

Thin: flask-smorest validates each call with its schema and serialises the answer; the view
calls the same services
as the agent console (``portal.capture.service``), and words their refusals in the API's error
shape. A key sees only its own team's requests: another team's id answers 404, like a missing one.
"""

from __future__ import annotations

from flask import current_app

from portal.api import answers, schemas
from portal.api.auth import has_scope, key_actor
from portal.api.blueprint import bp, fails_with, needs_scope
from portal.api.errors import INVALID_REQUEST, ApiError, invalid
from portal.api.idempotency import idempotent
from portal.api.lookups import agent_of_team, request_in_team
from portal.api.serialise import capture_request_out
from portal.api.spec import IDEMPOTENCY_KEY, REPLAYED, REQUEST_ID
from portal.api_keys.scopes import PAYMENTS_READ, REQUESTS_READ, REQUESTS_WRITE
from portal.capture import service
from portal.capture.errors import CaptureError
from portal.capture.kinds import COPY_LINK
from portal.capture.request_rules import check_new_request
from portal.delivery.destinations import normalise_destination
from portal.extensions import db
from portal.i18n import DEFAULT_LANGUAGE
from portal.models.capture import CaptureRequest
from portal.payments import service as payments
from portal.payments.gateway import StripeGateway

REQUEST = "/requests/<request_id>"
#: Where an operation on one request appears in the document.
TAGS = ["Capture requests"]


def _destination(channel: str, destination: str | None) -> str | None:
    if channel == COPY_LINK:
        return None
    if not (destination or "").strip():
        words = "mobile number" if channel == "sms" else "email address"
        raise invalid("destination", f"Give the customer's {words} to send the link to.")
    try:
        return normalise_destination(channel, destination)
    except ValueError as problem:
        raise invalid("destination", str(problem)) from None


def _refused(problem: CaptureError, *, state: bool) -> ApiError:
    """A service's refusal: a broken rule names its field (400); a request whose state does not
    allow the change is a conflict (409)."""
    db.session.rollback()
    if state and problem.field is None:
        return ApiError(409, INVALID_REQUEST, "request_state", str(problem))
    return invalid(problem.field, str(problem))


def _out(capture: CaptureRequest, link_url: str | None = None) -> dict:
    return capture_request_out(capture, with_payment=has_scope(PAYMENTS_READ), link_url=link_url)


@bp.route("/requests", methods=["POST"], tags=TAGS)
@needs_scope(REQUESTS_WRITE)
@idempotent
@bp.arguments(schemas.CreateRequestBody)
@bp.response(201, answers.CaptureRequestOut, headers=REPLAYED)
@fails_with(409)
@bp.doc(parameters=[IDEMPOTENCY_KEY])
def create_request(body: dict):
    """Create a capture request

    Create a request owned by ``agent`` and send its link (sms or email), or return the
    link once in ``link_url`` (channel copy). The same rules as the agent console apply.

    Needs the `requests:write` scope."""
    agent = agent_of_team(body["agent"])
    kind = body["kind"]
    spec = service.RequestSpec(
        kind=kind,
        reference=(body.get("reference") or "").strip(),
        expiry_minutes=body.get(
            "expiry_minutes", current_app.config["CAPTURE_DEFAULT_EXPIRY_MINUTES"]
        ),
        channel=body["channel"],
        destination=_destination(body["channel"], body.get("destination")),
        amount_minor=body.get("amount"),
        currency=body.get("currency") or current_app.config["CAPTURE_CURRENCIES"][0],
        purpose=(body.get("purpose") or "").strip() or None,
        interaction_id=(body.get("interaction_id") or "").strip() or None,
        field_set=body.get("field_set"),
        identity_item=body.get("identity_item"),
        identity_value=body.get("identity_value"),
        language=body.get("language", DEFAULT_LANGUAGE),
    )
    try:
        check_new_request(spec, purpose_required=True)
        issued = service.create_request(agent, spec, actor=key_actor())
    except CaptureError as problem:
        raise _refused(problem, state=False) from None
    except ValueError as problem:  # the outbox refused the destination or the channel
        db.session.rollback()
        raise invalid("destination", str(problem)) from None
    db.session.commit()
    link = issued.url if spec.channel == COPY_LINK else None
    return _out(issued.request, link), 201


@bp.route(REQUEST, methods=["GET"], parameters=[REQUEST_ID], tags=TAGS)
@needs_scope(REQUESTS_READ)
@bp.response(200, answers.CaptureRequestOut)
@fails_with(404)
def get_request(request_id: str):
    """Read a capture request

    The request's status and timestamps; with payments:read also its payment (card brand
    and last four only), refunds and disputes. A data request lists the fields captured,
    never their values.

    Needs the `requests:read` scope."""
    capture = request_in_team(request_id)
    if service.expire_if_due(capture, origin=key_actor().origin):
        db.session.commit()
    return _out(capture)


@bp.route(f"{REQUEST}/revoke", methods=["POST"], parameters=[REQUEST_ID], tags=TAGS)
@needs_scope(REQUESTS_WRITE)
@idempotent
@bp.arguments(schemas.EmptyBody, required=False)
@bp.response(200, answers.CaptureRequestOut, headers=REPLAYED)
@fails_with(404, 409)
@bp.doc(parameters=[IDEMPOTENCY_KEY])
def revoke_request(body: dict, request_id: str):
    """Revoke a capture request

    Stop the request: its link stops working at once, and a payment the customer had not
    finished is cancelled.

    Needs the `requests:write` scope."""
    capture = request_in_team(request_id)
    actor = key_actor()
    try:
        service.revoke(capture, actor=actor)
    except CaptureError as problem:
        raise _refused(problem, state=True) from None
    db.session.commit()
    payments.stop_quietly(capture, gateway=StripeGateway.for_app(), actor=actor)
    return _out(capture)


@bp.route(f"{REQUEST}/extend", methods=["POST"], parameters=[REQUEST_ID], tags=TAGS)
@needs_scope(REQUESTS_WRITE)
@idempotent
@bp.arguments(schemas.ExtendBody)
@bp.response(200, answers.CaptureRequestOut, headers=REPLAYED)
@fails_with(404, 409)
@bp.doc(parameters=[IDEMPOTENCY_KEY])
def extend_request(body: dict, request_id: str):
    """Give the customer more time

    Add ``minutes`` to the link's life, within the policy's longest lifetime.

    Needs the `requests:write` scope."""
    capture = request_in_team(request_id)
    try:
        service.extend(capture, body["minutes"], actor=key_actor())
    except CaptureError as problem:
        raise _refused(problem, state=True) from None
    db.session.commit()
    return _out(capture)


@bp.route(f"{REQUEST}/resend", methods=["POST"], parameters=[REQUEST_ID], tags=TAGS)
@needs_scope(REQUESTS_WRITE)
@idempotent
@bp.arguments(schemas.ResendBody)
@bp.response(200, answers.CaptureRequestOut, headers=REPLAYED)
@fails_with(404, 409)
@bp.doc(parameters=[IDEMPOTENCY_KEY])
def resend_request(body: dict, request_id: str):
    """Send a new link

    Issue a new link (the old one stops working) and send it, or return it once in
    ``link_url`` (channel copy). Only before the customer has pressed Start.

    Needs the `requests:write` scope."""
    capture = request_in_team(request_id)
    channel = body["channel"]
    destination = _destination(channel, body.get("destination"))
    try:
        issued = service.resend(capture, channel, destination, actor=key_actor())
    except CaptureError as problem:
        raise _refused(problem, state=True) from None
    except ValueError as problem:
        db.session.rollback()
        raise invalid("destination", str(problem)) from None
    db.session.commit()
    return _out(issued.request, issued.url if channel == COPY_LINK else None)
