"""The customer's personal-data step: what sending or declining the details does to the request.

Knows nothing of HTTP. ``portal.personal_data.service`` stores the decision (encrypted values, or
a decline) once per request; this module wraps it with the request's status, through the state
machine, in the caller's transaction (the caller commits):

- kind "data": sending completes the request (verified -> in_progress -> succeeded); declining
  ends it as ``declined``.
- kind "both": sending leaves the request verified, because the card payment comes next and
  completes it (``portal.payments.sync``); if the payment already went through, sending
  completes it here. Declining ends the request as ``declined`` when no money has been taken:
  the agent asked for a payment *and* these details as one request, so the customer is not
  sent on to pay for half of it; the agent sees "Customer declined" and decides, on the call,
  what happens next (a new payment-only link, say). If the customer had already paid, the
  payment stands and the request is complete, with the details recorded as declined.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update

from portal import audit
from portal.audit.trail import trail
from portal.capture.kinds import BOTH, DATA, DATA_KINDS
from portal.capture.states import Status, transition
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment, PaymentStatus
from portal.models.types import utcnow
from portal.personal_data import service as data_service

#: Statuses in which the customer may still send or decline the details.
OPEN_FOR_DATA = frozenset({Status.VERIFIED, Status.IN_PROGRESS})


class StepClosed(Exception):
    """The request can no longer take the customer's decision (it expired, was revoked or
    finished meanwhile, or its card payment is still being checked). Nothing was stored."""


@dataclass(frozen=True)
class StepState:
    """Where a request stands on its data step."""

    #: "open" (the form may be shown), "sent", "declined", "pay_first" (a card payment is
    #: being checked by the bank: finish that first) or "closed".
    state: str
    #: After the decision: "payment" when the customer still has to pay, else "done".
    then: str = "done"


def payment_succeeded(request: CaptureRequest) -> bool:
    status = db.session.execute(
        select(Payment.status).where(Payment.capture_request_id == request.id)
    ).scalar_one_or_none()
    return status == PaymentStatus.SUCCEEDED


def state_of(request: CaptureRequest) -> StepState:
    """What the data step is for ``request`` now (reads only)."""
    if request.kind not in DATA_KINDS:
        return StepState("closed")
    submission = data_service.submission_for(request)
    paid = request.kind == BOTH and payment_succeeded(request)
    then = "payment" if request.kind == BOTH and not paid else "done"
    if submission is not None:
        if submission.declined_at is not None:
            return StepState("declined")
        return StepState("sent", then if request.status in OPEN_FOR_DATA else "done")
    if request.status == Status.VERIFIED or (request.status == Status.IN_PROGRESS and paid):
        return StepState("open", then)
    if request.status == Status.IN_PROGRESS:
        return StepState("pay_first")
    return StepState("closed")


def send(
    request: CaptureRequest, cleaned: dict[str, str], notice_version: str, actor: audit.Actor
) -> StepState:
    """Store the customer's details (encrypted) and move the request on, audited as ``actor``.

    Returns the new state ("sent", and whether a payment follows). Raises StepClosed,
    AlreadyDecided (a decision was stored first: a double submission), DataCaptureError.
    """
    _require_open(request)
    if request.kind == DATA:
        _move(request, Status.IN_PROGRESS, step="data", actor=actor)
        data_service.store_submission(request, cleaned, notice_version, actor=actor)
        _move(request, Status.SUCCEEDED, step="data", actor=actor)
        return StepState("sent")
    _hold(request)
    data_service.store_submission(request, cleaned, notice_version, actor=actor)
    if payment_succeeded(request):
        _move(request, Status.SUCCEEDED, step="data", actor=actor)
        return StepState("sent")
    return StepState("sent", "payment")


def decline(request: CaptureRequest, notice_version: str, actor: audit.Actor) -> StepState:
    """Record that the customer (``actor``) chose not to give the details, and end or complete
    the request as the module docstring says. Raises StepClosed, AlreadyDecided."""
    _require_open(request)
    if request.kind == BOTH and payment_succeeded(request):
        _hold(request)
        data_service.record_decline(request, notice_version, actor=actor)
        _move(request, Status.SUCCEEDED, step="data_declined", actor=actor)
    else:
        _move(request, Status.DECLINED, step="data", actor=actor)
        data_service.record_decline(request, notice_version, actor=actor)
    return StepState("declined")


def mark_shown(request: CaptureRequest, actor: audit.Actor) -> bool:
    """Audit, once per request, that the customer was shown the personal-data form: the moment
    they reach a sensitive step (a contact-centre platform pauses call recording on it, through
    the outbound webhooks). Joins the caller's transaction. Returns whether it was recorded now."""
    rows = trail()  # a row from a moment ago may not be sealed yet
    seen = db.session.execute(
        select(rows.c.id)
        .where(
            rows.c.target_id == request.public_id,
            rows.c.target_type == "capture_request",
            rows.c.action == "data.step_shown",
        )
        .limit(1)
    ).first()
    if seen is not None:
        return False
    audit.record_for(request, "data.step_shown", actor, details={"field_set": request.field_set})
    return True


def _require_open(request: CaptureRequest) -> None:
    if state_of(request).state != "open":
        raise StepClosed(f"request {request.public_id} is not taking personal data now")


def _still_open():
    """An open request: verified and not yet past its expiry, or in progress (a payment that
    went through, which never expires from under the customer)."""
    return [
        CaptureRequest.status.in_([Status.VERIFIED.value, Status.IN_PROGRESS.value]),
        or_(
            CaptureRequest.status == Status.IN_PROGRESS.value,
            CaptureRequest.expires_at > utcnow(),
        ),
    ]


def _hold(request: CaptureRequest) -> None:
    """Check, atomically, that the request is still open, and hold its row until the caller
    commits: a revoke or an expiry racing with this decision then waits for it, and sees it.
    Changes no status (``updated_at`` only). Raises StepClosed."""
    held = db.session.execute(
        update(CaptureRequest)
        .where(CaptureRequest.id == request.id, *_still_open())
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(request)
    if held != 1:
        raise StepClosed(f"request {request.public_id} closed before the decision was stored")


def _move(request: CaptureRequest, target: Status, *, step: str, actor: audit.Actor) -> None:
    if not transition(request, target, where=_still_open()):
        raise StepClosed(f"request {request.public_id} could not move to {target.value}")
    audit.record_for(request, f"capture.{target.value}", actor, details={"step": step})
