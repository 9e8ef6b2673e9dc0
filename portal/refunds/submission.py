"""Handing refunds to Stripe: the first time, the retry button, and checking on one Stripe
already has. Knows nothing of HTTP.

Stripe always sees the idempotency key ``postern-refund-<row id>``, and on a retry a refund
Stripe already made for the row (found by its metadata) is linked instead of asked for again,
so neither an outage, a lost answer, two clicks nor an expired idempotency key can refund
twice. Never raises for Stripe's answers: an outage leaves the row "requested" (retriable), a
refusal marks it "failed" with a plain message (``charge_disputed``: the payment is disputed,
also found out here before asking, when the bank opened a chargeback after the refund was
asked; an inquiry does not stop it).
Every function COMMITS its own work, and no transaction is held open across a call to Stripe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import update

from portal import audit
from portal.audit import Actor
from portal.disputes.queries import refund_blocking_dispute_for
from portal.extensions import db
from portal.i18n import N_
from portal.models.refund import Refund, RefundStatus
from portal.models.types import utcnow
from portal.payments.facts import METADATA_REFUND, METADATA_REQUEST
from portal.payments.gateway import ProviderRejected, ProviderUnavailable, StripeGateway
from portal.refunds import sync, wording
from portal.refunds.service import WrongState

log = logging.getLogger("postern.refunds")


@dataclass(frozen=True)
class SubmitOutcome:
    """What handing a refund to Stripe gave: ``ok`` (Stripe has it; when not, the row waits
    for a retry or was refused, as ``message`` says) and a sentence for staff."""

    ok: bool
    message: str


def submit(refund: Refund, *, gateway: StripeGateway, actor: Actor) -> SubmitOutcome:
    """Hand a "requested" refund to Stripe (first time or retry: always the same key).

    On a retry, a refund Stripe already made for this row (found by its metadata) is linked
    instead of asking again, so even an expired idempotency key cannot refund twice. Never
    raises for Stripe's answers: an outage leaves the row "requested" (retriable), a
    refusal marks it "failed" with a plain message. COMMITS.
    """
    if refund.status != RefundStatus.REQUESTED:
        return SubmitOutcome(True, wording.status_words(refund.status))
    payment = refund.payment
    if refund.submit_attempts == 0 and refund_blocking_dispute_for(payment.id) is not None:
        # Approved before the bank opened a chargeback: Stripe would refuse it (charge_disputed),
        # so it is refused here the same way without asking. Only before the first hand-over:
        # after one, Stripe may have the refund already, and is asked. An inquiry goes ahead:
        # Stripe accepts the refund, and it usually closes the inquiry.
        _mark_refused(refund, "charge_disputed", actor)
        return SubmitOutcome(False, wording.refusal_message("charge_disputed"))
    retry = refund.submit_attempts > 0
    db.session.execute(
        update(Refund)
        .where(Refund.id == refund.id)
        .values(submit_attempts=Refund.submit_attempts + 1, updated_at=utcnow())
    )
    db.session.commit()
    try:
        facts = _already_made(refund, gateway) if retry else None
        if facts is None:
            facts = gateway.create_refund(
                payment_intent_id=payment.stripe_payment_intent_id,
                amount=refund.amount_minor,
                reason=wording.stripe_reason(refund.reason_code),
                metadata={
                    METADATA_REFUND: str(refund.id),
                    METADATA_REQUEST: payment.capture_request.public_id,
                },
                idempotency_key=refund.idempotency_key,
            )
    except ProviderUnavailable as problem:
        db.session.rollback()
        _note_outage(refund, problem.reason, actor)
        return SubmitOutcome(False, wording.PROVIDER_UNAVAILABLE)
    except ProviderRejected as refused:
        db.session.rollback()
        message = wording.refusal_message(refused.code, refused.provider_message)
        _mark_refused(refund, refused.code, actor)
        return SubmitOutcome(False, message)
    sync.apply_facts(refund, facts, actor=actor)
    db.session.commit()
    return SubmitOutcome(True, wording.status_words(refund.status))


def _already_made(refund: Refund, gateway: StripeGateway):
    for facts in gateway.refunds_for_intent(refund.payment.stripe_payment_intent_id):
        if facts.our_refund_id == refund.id:
            return facts
    return None


def _note_outage(refund: Refund, reason: str, actor: Actor) -> None:
    db.session.execute(
        update(Refund)
        .where(Refund.id == refund.id)
        .values(last_error_code="provider_unavailable", updated_at=utcnow())
    )
    audit.record_for(
        sync.request_of(refund),
        "refund.submit_deferred",
        actor,
        outcome="failure",
        details={"refund_id": refund.id, "error": reason, "attempt": refund.submit_attempts},
    )
    db.session.commit()
    log.warning("refund not confirmed by stripe yet", extra={"refund_id": refund.id})


def _mark_refused(refund: Refund, code: str | None, actor: Actor) -> None:
    now = utcnow()
    moved = db.session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.status == RefundStatus.REQUESTED)
        .values(
            status=RefundStatus.FAILED,
            failure_code=(code or "refused")[:64],
            last_error_code=None,
            completed_at=now,
            updated_at=now,
        )
    ).rowcount
    if moved:
        audit.record_for(
            sync.request_of(refund),
            "refund.failed",
            actor,
            outcome="failure",
            details={"refund_id": refund.id, "stripe_error": code, "stage": "refused"},
        )
    db.session.commit()
    db.session.expire(refund)


def retry(refund: Refund, *, gateway: StripeGateway, actor: Actor) -> SubmitOutcome:
    """The retry button: submit a "requested" refund again (same key), or ask Stripe for the
    current status of one it has. Raises WrongState for any other status. COMMITS."""
    if refund.status == RefundStatus.REQUESTED:
        return submit(refund, gateway=gateway, actor=actor)
    if refund.stripe_refund_id and not refund.is_final:
        try:
            facts = gateway.retrieve_refund(refund.stripe_refund_id)
        except (ProviderUnavailable, ProviderRejected):
            db.session.rollback()
            return SubmitOutcome(False, wording.PROVIDER_UNAVAILABLE)
        sync.apply_facts(refund, facts, actor=actor)
        db.session.commit()
        return SubmitOutcome(True, wording.status_words(refund.status))
    raise WrongState(N_("There is nothing to retry for this refund."))
