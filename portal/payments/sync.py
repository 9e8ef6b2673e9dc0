"""Bring our records in line with what Stripe says about a PaymentIntent.

One function, ``apply_intent``, is used by every path that learns something from Stripe: the
payment page, its status endpoint, the return from 3-D Secure, webhooks and reconcile. It is
idempotent and monotonic: the same facts applied twice change nothing the second time, and
stale facts (a late or out-of-order event) never move a payment or a request backwards,
because every write is a conditional UPDATE that refuses to leave a final status, and the
request moves only through ``portal.capture.states``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, select, update

from portal import audit
from portal.audit import Actor
from portal.capture.kinds import BOTH, PAYMENT
from portal.capture.states import TERMINAL, Status, transition
from portal.extensions import db
from portal.models.captured_data import DataSubmission
from portal.models.payment import FINAL_PAYMENT_STATUSES, Payment, PaymentAttempt, PaymentStatus
from portal.models.types import utcnow
from portal.payments.facts import IntentFacts
from portal.payments.gateway import StripeGateway
from portal.payments.inserts import insert_unless_present

log = logging.getLogger("postern.payments")

#: PaymentIntent statuses meaning "the customer has submitted; the outcome is on its way".
UNDER_WAY = frozenset(
    {
        PaymentStatus.REQUIRES_ACTION,
        PaymentStatus.PROCESSING,
        PaymentStatus.REQUIRES_CAPTURE,
        PaymentStatus.REQUIRES_CONFIRMATION,
    }
)
AUTHENTICATION_FAILURE = "payment_intent_authentication_failure"


@dataclass(frozen=True)
class SyncOutcome:
    """What ``apply_intent`` changed: statuses before and after, for reports and audits."""

    payment_before: str
    payment_after: str
    request_before: str
    request_after: str

    @property
    def changed(self) -> bool:
        return (self.payment_before, self.request_before) != (
            self.payment_after,
            self.request_after,
        )

    def describe(self) -> str:
        return (
            f"payment {self.payment_before} -> {self.payment_after}, "
            f"request {self.request_before} -> {self.request_after}"
        )


def max_attempts() -> int:
    return int(current_app.config["PAYMENT_MAX_ATTEMPTS"])


class _PendingAudits:
    """The audit rows one ``apply_intent`` call owes, written together at its end.

    Writing an audit row takes the audit chain's lock (on PostgreSQL) until the transaction
    commits, and every other writer of audit rows waits for it. Written last, right before the
    caller commits, the rows hold that lock for their own INSERTs only, not for the UPDATEs
    and reads in between. Same transaction, same rows, same order: nothing is left unaudited.
    """

    def __init__(self, payment: Payment, actor: Actor):
        self.actor = actor
        self.public_id = payment.capture_request.public_id  # read once: it never changes
        self._rows: list[tuple[str, str, dict]] = []

    def add(self, action: str, details: dict, outcome: str = "success") -> None:
        self._rows.append((action, outcome, details))

    def write(self) -> None:
        for action, outcome, details in self._rows:
            audit.record_for(self.public_id, action, self.actor, outcome=outcome, details=details)


def apply_intent(
    payment: Payment,
    facts: IntentFacts,
    *,
    gateway: StripeGateway,
    actor: Actor,
    close_reason: str | None = None,
) -> SyncOutcome:
    """Record what ``facts`` (fresh from Stripe) say about ``payment`` and move its request.

    A failed attempt is counted once; when the count reaches PAYMENT_MAX_ATTEMPTS the intent
    is canceled at Stripe (so it can never be charged) and the request fails. The audit rows
    are written last, in order (see ``_PendingAudits``). Joins the current transaction; the
    caller commits. Raises the gateway's errors if that cancel fails.
    """
    request = payment.capture_request
    payment_before, request_before = payment.status, request.status
    if payment.is_final:
        # Nothing can happen to a finished payment; stale facts must not even be counted.
        return SyncOutcome(payment_before, payment_before, request_before, request_before)
    reason = close_reason
    audits = _PendingAudits(payment, actor)
    if facts.status == PaymentStatus.REQUIRES_PAYMENT_METHOD and facts.error_code:
        if _count_failed_attempt(payment, facts):
            _audit_failed_attempt(payment, facts, audits)
        if payment.failed_attempts >= max_attempts():
            # No audit row is written yet, so nobody waits on the audit chain while we wait
            # on Stripe.
            facts = gateway.cancel_payment_intent(facts.id, "abandoned")
            reason = reason or "too_many_attempts"
    if facts.status == PaymentStatus.SUCCEEDED and facts.charge is not None:
        _record_attempt(payment, facts.charge.id, "succeeded", facts)
    newly_final = _update_payment(payment, facts, audits, reason)
    _move_request(payment, facts, audits, reason, newly_final=newly_final)
    outcome = SyncOutcome(payment_before, payment.status, request_before, request.status)
    audits.write()
    return outcome


def _update_row(payment: Payment, *conditions: ColumnElement[bool], **values: Any) -> bool:
    """UPDATE ``payment``'s row (if ``conditions`` hold) and refresh ``payment`` from the row as
    written (RETURNING), in one round trip instead of an UPDATE and a SELECT. False if no row
    matched; ``payment`` is then expired, so reading it fetches the truth."""
    written = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, *conditions)
        .values(**values)
        .returning(Payment)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).first()
    if written is None:
        db.session.expire(payment)
    return written is not None


def _record_attempt(payment: Payment, ref: str, outcome: str, facts: IntentFacts) -> bool:
    """Insert the attempt row; False if it was already recorded (the unique ref decides)."""
    charge = facts.charge if facts.charge and facts.charge.id == ref else None
    three_ds = charge.three_d_secure if charge else None
    if facts.error_code == AUTHENTICATION_FAILURE and outcome == "failed":
        three_ds = "failed"
    attempt = {
        "payment_id": payment.id,
        "provider_ref": ref,
        "outcome": outcome,
        "failure_code": facts.error_code if outcome == "failed" else None,
        "decline_code": facts.error_decline_code if outcome == "failed" else None,
        "card_brand": charge.brand if charge else None,
        "card_last4": charge.last4 if charge else None,
        "three_d_secure": three_ds,
        "created_at": utcnow(),
    }
    return insert_unless_present(PaymentAttempt, attempt, PaymentAttempt.provider_ref)


def _count_failed_attempt(payment: Payment, facts: IntentFacts) -> bool:
    """Record and count the failed attempt ``facts`` report, once however often it is
    reported; True if this call counted it (it then still needs its audit row)."""
    if facts.error_charge_id:
        ref = facts.error_charge_id
    elif facts.error_payment_method_id:
        ref = f"pm:{facts.error_payment_method_id}"
    else:
        return False  # nothing identifies the attempt, so it could not be counted exactly once
    if not _record_attempt(payment, ref, "failed", facts):
        return False
    three_ds = "failed" if facts.error_code == AUTHENTICATION_FAILURE else payment.three_d_secure
    _update_row(
        payment,
        failed_attempts=Payment.failed_attempts + 1,
        failure_code=facts.error_code,
        decline_code=facts.error_decline_code,
        three_d_secure=three_ds,
        updated_at=utcnow(),
    )
    return True


def _audit_failed_attempt(payment: Payment, facts: IntentFacts, audits: _PendingAudits) -> None:
    audits.add(
        "payment.failed",
        outcome="failure",
        details={
            "payment_intent": facts.id,
            "charge": facts.error_charge_id,
            "amount_minor": facts.amount,
            "currency": facts.currency,
            "failure_code": facts.error_code,
            "decline_code": facts.error_decline_code,
            "attempt": payment.failed_attempts,
        },
    )


def _update_payment(
    payment: Payment, facts: IntentFacts, audits: _PendingAudits, reason: str | None
) -> bool:
    """Mirror the intent on the payment row; True if this call made it final (audited)."""
    now = utcnow()
    values: dict = {"status": facts.status, "updated_at": now}
    charge = facts.charge
    if charge is not None:
        values["latest_charge_id"] = charge.id
    if facts.status == PaymentStatus.SUCCEEDED and charge is not None:
        values.update(
            card_brand=charge.brand,
            card_last4=charge.last4,
            card_exp_month=charge.exp_month,
            card_exp_year=charge.exp_year,
            three_d_secure=charge.three_d_secure,
            succeeded_at=now,
        )
    if facts.status == PaymentStatus.CANCELLED:
        values.update(canceled_at=now, cancellation_reason=reason or facts.cancellation_reason)
    moved = _update_row(payment, Payment.status.not_in(FINAL_PAYMENT_STATUSES), **values)
    if not moved or facts.status not in FINAL_PAYMENT_STATUSES:
        return False
    details = {
        "payment_intent": facts.id,
        "charge": charge.id if charge else None,
        "amount_minor": facts.amount,
        "currency": facts.currency,
    }
    if facts.status == PaymentStatus.SUCCEEDED:
        details["three_d_secure"] = charge.three_d_secure if charge else None
        audits.add("payment.succeeded", details)
    else:
        details["reason"] = values["cancellation_reason"]
        audits.add("payment.canceled", details)
    return True


def _move_request(
    payment: Payment,
    facts: IntentFacts,
    audits: _PendingAudits,
    reason: str | None,
    *,
    newly_final: bool,
) -> None:
    request = payment.capture_request
    if facts.status in UNDER_WAY:
        _transition(payment, Status.IN_PROGRESS, audits)
    elif facts.status == PaymentStatus.SUCCEEDED:
        if request.status in TERMINAL and request.status != Status.SUCCEEDED:
            if newly_final:
                _succeeded_after_close(payment, facts, audits)
            return
        _transition(payment, Status.IN_PROGRESS, audits)
        if _complete_after_payment(payment):
            _transition(payment, Status.SUCCEEDED, audits)
    elif facts.status == PaymentStatus.CANCELLED:
        _transition(payment, Status.FAILED, audits, status_reason=reason or "payment_canceled")


def _transition(payment: Payment, status: Status, audits: _PendingAudits, **values) -> None:
    if transition(payment.capture_request, status, **values):
        details = {"payment_intent": payment.stripe_payment_intent_id, **values}
        audits.add(f"capture.{status.value}", details)


def _complete_after_payment(payment: Payment) -> bool:
    """A payment request is done when paid; a payment-and-data request also needs its data."""
    request = payment.capture_request
    if request.kind == PAYMENT:
        return True
    if request.kind == BOTH:
        submission = db.session.execute(
            select(DataSubmission.id).where(
                DataSubmission.capture_request_id == request.id,
                DataSubmission.submitted_at.is_not(None),
            )
        ).first()
        return submission is not None
    return False


def _succeeded_after_close(payment: Payment, facts: IntentFacts, audits: _PendingAudits) -> None:
    """Money was taken for a request we had already closed (it expired or was revoked while
    the customer's bank was approving). The truth is recorded and flagged for a refund."""
    log.warning(
        "payment succeeded after its request closed",
        extra={"payment_intent": facts.id, "request_status": payment.capture_request.status},
    )
    audits.add(
        "payment.succeeded_after_close",
        outcome="failure",
        details={
            "payment_intent": facts.id,
            "amount_minor": facts.amount,
            "currency": facts.currency,
            "request_status": payment.capture_request.status,
            "action_needed": "refund",
        },
    )
