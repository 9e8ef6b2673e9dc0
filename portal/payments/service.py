"""Card payments for capture requests: create or reuse the PaymentIntent, read its outcome,
stop it when the request closes.

Knows nothing of HTTP. The amount always comes from the capture request, never from the
browser; only the PaymentIntent's ``client_secret`` is handed out, for Stripe.js.

Transactions: these functions talk to Stripe between database steps, and never hold a
transaction open across a network call they could avoid, so each one COMMITS its own work
(documented per function). Anything that must happen once relies on the database: one
payment row per request (unique), one PaymentIntent per idempotency key (Stripe), one
PaymentIntent id per payment (a conditional UPDATE).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.audit import Actor
from portal.capture.kinds import PAYMENT_KINDS
from portal.capture.states import Status
from portal.charge_limits import check_card_amount
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment, PaymentStatus
from portal.models.types import utcnow
from portal.money import AmountError
from portal.payments import messages
from portal.payments.attempt_limit import max_attempts
from portal.payments.facts import METADATA_REQUEST, IntentFacts
from portal.payments.gateway import ProviderRejected, ProviderUnavailable, StripeGateway
from portal.payments.sync import SyncOutcome, apply_intent

log = logging.getLogger("postern.payments")

#: Statuses in which the customer may pay (or watch a payment under way).
PAYABLE = frozenset({Status.VERIFIED, Status.IN_PROGRESS})
#: Request statuses in which an open PaymentIntent must be stopped and the page says why.
CLOSED_STATUSES = frozenset({Status.EXPIRED, Status.REVOKED, Status.LOCKED, Status.DECLINED})
#: A request whose 3-D Secure challenge was abandoned this long after its expiry is stopped.
ABANDONED_AFTER = timedelta(minutes=10)


class NotPayable(ValueError):
    """The request is not one this customer can pay now (wrong kind or status)."""


class AmountNotAccepted(NotPayable):
    """Stripe would refuse a card payment of this request's amount (below the currency's
    minimum, above the maximum). New requests are refused at creation
    (``portal.charge_limits``); this catches one made before a limit applied to it. The
    message is for the agent and the audit trail, never the customer."""


@dataclass(frozen=True)
class PaymentView:
    """What the customer's payment page shows.

    ``state``: "ready" (enter card details), "processing" (waiting for the bank),
    "succeeded", "failed" (stopped after too many attempts or canceled) or "closed" (the
    request expired, was revoked or locked). ``client_secret`` is set only when the page may
    mount Stripe's card form.
    """

    state: str
    amount_minor: int
    currency: str
    message: str | None = None
    attempts_left: int = 0
    client_secret: str | None = None


def idempotency_key(request: CaptureRequest, generation: int) -> str:
    """The key for creating this request's PaymentIntent: built from our own ids only, so a
    reload, a double click, another process or a retry all get the same PaymentIntent."""
    return f"postern-pi-{request.public_id}-{generation}"


def payment_method_types() -> tuple[str, ...]:
    """The payment methods a PaymentIntent may be paid with: ``PAYMENT_METHOD_TYPES``, the
    operator's explicit policy (config/settings.py), never whatever Stripe's Dashboard has
    switched on."""
    return tuple(current_app.config["PAYMENT_METHOD_TYPES"])


def payment_for(request: CaptureRequest) -> Payment | None:
    return db.session.execute(
        select(Payment).where(Payment.capture_request_id == request.id)
    ).scalar_one_or_none()


def _ensure_payment(request: CaptureRequest) -> Payment:
    """The request's payment row, created if missing (the unique request id picks one)."""
    payment = payment_for(request)
    if payment is not None:
        return payment
    now = utcnow()
    try:
        with db.session.begin_nested():
            payment = Payment(
                capture_request_id=request.id,
                amount_minor=request.amount_minor,
                currency=request.currency,
                status=PaymentStatus.CREATING,
                created_at=now,
                updated_at=now,
            )
            db.session.add(payment)
    except IntegrityError:
        payment = payment_for(request)
        if payment is None:  # pragma: no cover - the constraint we hit names this row
            raise
    return payment


def start_checkout(request: CaptureRequest, *, gateway: StripeGateway, actor: Actor) -> PaymentView:
    """Create (once) or reuse the PaymentIntent for ``request`` and say what the page shows.

    Raises NotPayable, and the gateway's ProviderUnavailable / ProviderRejected (nothing is
    lost: the next call carries on with the same idempotency key). COMMITS.
    """
    if request.kind not in PAYMENT_KINDS or not request.amount_minor or not request.currency:
        raise NotPayable("this request does not ask for a payment")
    if request.status not in PAYABLE and payment_for(request) is None:
        raise NotPayable(f"a {request.status} request cannot be paid")
    payment = _ensure_payment(request)
    db.session.commit()
    if payment.is_final:
        return view_of(payment, None)
    if payment.stripe_payment_intent_id is None:
        if request.status not in PAYABLE:
            raise NotPayable(f"a {request.status} request cannot be paid")
        _check_amount(payment, actor)
        facts = gateway.create_payment_intent(
            amount=payment.amount_minor,
            currency=payment.currency,
            metadata={
                METADATA_REQUEST: request.public_id,
                "postern_reference": request.reference or "",
                "postern_agent": str(request.created_by_id),
            },
            idempotency_key=idempotency_key(request, payment.intent_generation),
            payment_method_types=payment_method_types(),
            description=f"Postern request {request.public_id}",
        )
        _link_intent(payment, facts, actor)
    else:
        facts = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    apply_intent(payment, facts, gateway=gateway, actor=actor)
    db.session.commit()
    return view_of(payment, facts)


def _check_amount(payment: Payment, actor: Actor) -> None:
    """Raise AmountNotAccepted (audited, COMMITS) if Stripe would refuse the amount, before
    asking Stripe: the customer is told plainly, not "card payments are not available"."""
    try:
        check_card_amount(payment.amount_minor, payment.currency)
    except AmountError as problem:
        audit.record_for(
            payment.capture_request,
            "payment.amount_refused",
            actor,
            outcome="failure",
            details={
                "amount_minor": payment.amount_minor,
                "currency": payment.currency,
                "rule": problem.problem.value,
            },
        )
        db.session.commit()
        raise AmountNotAccepted(str(problem)) from None


def _link_intent(payment: Payment, facts: IntentFacts, actor: Actor) -> None:
    """Remember the PaymentIntent id; only the first caller's write counts, and every caller
    got the same id from Stripe anyway (same idempotency key)."""
    linked = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.stripe_payment_intent_id.is_(None))
        .values(stripe_payment_intent_id=facts.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(payment)
    if linked == 1:
        audit.record_for(
            payment.capture_request,
            "payment.intent_created",
            actor,
            details={
                "payment_intent": facts.id,
                "amount_minor": facts.amount,
                "currency": facts.currency,
            },
        )
    db.session.commit()


def refresh(
    payment: Payment, *, gateway: StripeGateway, actor: Actor, close_reason: str | None = None
) -> tuple[IntentFacts, SyncOutcome]:
    """Ask Stripe for the truth about ``payment`` and apply it. Raises the gateway's errors.
    COMMITS."""
    facts = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    outcome = apply_intent(payment, facts, gateway=gateway, actor=actor, close_reason=close_reason)
    db.session.commit()
    return facts, outcome


def current_view(request: CaptureRequest, *, gateway: StripeGateway, actor: Actor) -> PaymentView:
    """What the page should show now, from Stripe's truth (the status endpoint, the return
    from 3-D Secure). Stops a request that is closed or overdue. COMMITS."""
    payment = payment_for(request)
    if payment is None or payment.stripe_payment_intent_id is None:
        return start_checkout(request, gateway=gateway, actor=actor)
    facts, _ = refresh(payment, gateway=gateway, actor=actor)
    if stop_if_closed(request, gateway=gateway, actor=actor) is not None:
        return view_of(payment, None)
    return view_of(payment, facts)


def view_of(payment: Payment, facts: IntentFacts | None) -> PaymentView:
    request = payment.capture_request
    left = max(max_attempts() - payment.failed_attempts, 0)
    base = {"amount_minor": payment.amount_minor, "currency": payment.currency}
    if payment.status == PaymentStatus.SUCCEEDED:
        return PaymentView("succeeded", **base)
    if request.status in CLOSED_STATUSES:
        return PaymentView("closed", **base, message=messages.CLOSED[request.status])
    if payment.status == PaymentStatus.CANCELLED or request.status == Status.FAILED:
        return PaymentView("failed", **base, message=messages.TOO_MANY_ATTEMPTS)
    message = None
    if payment.failure_code or payment.decline_code:
        message = messages.decline_message(payment.failure_code, payment.decline_code)
    waiting = payment.status in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
    state = "processing" if waiting else "ready"
    secret = facts.client_secret if facts else None
    return PaymentView(state, **base, message=message, attempts_left=left, client_secret=secret)


def stop_if_closed(
    request: CaptureRequest, *, gateway: StripeGateway, actor: Actor
) -> SyncOutcome | None:
    """If ``request`` is closed (expired, revoked, locked) or overdue mid-payment, cancel its
    PaymentIntent at Stripe so it can never be charged, and record the truth (which may be
    that it succeeded just before). None if there was nothing to stop. Raises the gateway's
    errors. COMMITS.
    """
    payment = payment_for(request)
    if payment is None or payment.stripe_payment_intent_id is None or payment.is_final:
        return None
    reason = _stop_reason(request, payment)
    if reason is None:
        return None
    facts = gateway.cancel_payment_intent(payment.stripe_payment_intent_id, "abandoned")
    outcome = apply_intent(payment, facts, gateway=gateway, actor=actor, close_reason=reason)
    db.session.commit()
    log.info(
        "payment stopped",
        extra={"payment_intent": facts.id, "reason": reason, "intent_status": facts.status},
    )
    return outcome


def stop_quietly(request: CaptureRequest, *, gateway: StripeGateway, actor: Actor) -> None:
    """``stop_if_closed`` for callers that must not fail because Stripe is unreachable (an
    agent's revoke, a page explaining an expiry): the problem is logged and reconcile stops
    the payment later. COMMITS (or rolls back its own work)."""
    try:
        stop_if_closed(request, gateway=gateway, actor=actor)
    except (ProviderUnavailable, ProviderRejected) as problem:
        db.session.rollback()
        log.warning("could not stop a closed payment yet", extra={"error": str(problem)})


def _stop_reason(request: CaptureRequest, payment: Payment) -> str | None:
    """Why the payment must be stopped now, or None. A payment whose bank check is under way
    is left alone until it is clearly abandoned."""
    if request.status in CLOSED_STATUSES | {Status.FAILED}:
        return f"request_{request.status}"
    if request.status != Status.IN_PROGRESS:
        return None
    overdue = utcnow() - request.expires_at
    if overdue <= timedelta(0):
        return None
    if payment.status == PaymentStatus.REQUIRES_PAYMENT_METHOD or overdue > ABANDONED_AFTER:
        return "expired_during_payment"
    return None
