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

from sqlalchemy import ColumnElement, select, update

from portal import audit
from portal.audit import Actor
from portal.capture.kinds import BOTH, PAYMENT
from portal.capture.states import TERMINAL, Status, transition
from portal.delivery.receipts import queue_receipt
from portal.extensions import db
from portal.models.captured_data import DataSubmission
from portal.models.payment import FINAL_PAYMENT_STATUSES, Payment, PaymentAttempt, PaymentStatus
from portal.models.types import utcnow
from portal.payments.attempt_limit import max_attempts
from portal.payments.facts import AUTHENTICATION_FAILURE, ChargeFacts, IntentFacts
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

    Every failed attempt is counted once, by its charge id, from the intent's charges as
    Stripe lists them now (``_count_failed_attempts``); when the count reaches
    PAYMENT_MAX_ATTEMPTS the intent is canceled at Stripe (so it can never be charged) and the
    request fails. An intent that has already succeeded by then is recorded as paid and
    flagged (``_flag_if_over_limit``). The audit rows are written last, in order (see
    ``_PendingAudits``). Joins the current transaction; the caller commits. Raises the
    gateway's errors if listing the charges or the cancel fails.
    """
    request = payment.capture_request
    payment_before, request_before = payment.status, request.status
    if payment.is_final:
        # Nothing can happen to a finished payment; stale facts must not even be counted.
        return SyncOutcome(payment_before, payment_before, request_before, request_before)
    reason = close_reason
    audits = _PendingAudits(payment, actor)
    _count_failed_attempts(payment, facts, gateway, audits)
    if payment.failed_attempts >= max_attempts() and not facts.is_final:
        # No audit row is written yet, so nobody waits on the audit chain while we wait on
        # Stripe. Canceled, the intent refuses every further confirm, the customer's and one
        # sent straight to Stripe with the page's client secret alike.
        facts = gateway.cancel_payment_intent(facts.id, "abandoned")
        reason = reason or "too_many_attempts"
    if facts.status == PaymentStatus.SUCCEEDED and facts.charge is not None:
        _record_attempt(payment, _Attempt.succeeded(facts.charge))
    newly_final = _update_payment(payment, facts, audits, reason)
    if newly_final and facts.status == PaymentStatus.SUCCEEDED:
        _flag_if_over_limit(payment, facts, audits)
    _move_request(payment, facts, audits, reason, newly_final=newly_final)
    outcome = SyncOutcome(payment_before, payment.status, request_before, request.status)
    audits.write()
    queue_receipt(payment, actor)  # only if now paid; once, by its unique key, however learned
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


@dataclass(frozen=True)
class _Attempt:
    """One attempt to record: a charge, or a failed 3-D Secure check that made none."""

    ref: str
    outcome: str
    failure_code: str | None = None
    decline_code: str | None = None
    charge: ChargeFacts | None = None
    three_d_secure: str | None = None

    @classmethod
    def succeeded(cls, charge: ChargeFacts) -> _Attempt:
        return cls(charge.id, "succeeded", charge=charge, three_d_secure=charge.three_d_secure)

    @classmethod
    def failed_charge(cls, charge: ChargeFacts, facts: IntentFacts) -> _Attempt:
        failure_code, decline_code = charge.failure_code or "card_declined", charge.decline_code
        if charge.id == facts.error_charge_id and facts.error_code:
            # The intent's own error names this charge: its decline_code is the one Stripe
            # documents for declines (a Radar block says "fraudulent" there, for one).
            failure_code, decline_code = facts.error_code, facts.error_decline_code
        return cls(
            charge.id,
            "failed",
            failure_code=failure_code,
            decline_code=decline_code,
            charge=charge,
            three_d_secure=charge.three_d_secure,
        )


def _record_attempt(payment: Payment, attempt: _Attempt) -> bool:
    """Insert the attempt row; False if it was already recorded (the unique ref decides)."""
    charge = attempt.charge
    row = {
        "payment_id": payment.id,
        "provider_ref": attempt.ref,
        "outcome": attempt.outcome,
        "failure_code": attempt.failure_code,
        "decline_code": attempt.decline_code,
        "card_brand": charge.brand if charge else None,
        "card_last4": charge.last4 if charge else None,
        "three_d_secure": attempt.three_d_secure,
        "created_at": utcnow(),
    }
    return insert_unless_present(PaymentAttempt, row, PaymentAttempt.provider_ref)


def _failed_attempts_reported(
    payment: Payment, facts: IntentFacts, gateway: StripeGateway
) -> list[_Attempt]:
    """Every failed attempt Stripe can tell of now, newest first.

    Each failed charge comes from the intent's charges, listed again from Stripe: the intent's
    ``last_payment_error`` names only the latest failure, so confirms made in quick succession
    (or sent straight to Stripe with the page's client secret) would be missed if only it were
    read. The list is asked for only when the intent has a charge we have not seen: charges
    are made one after another, so once the latest is known, every earlier one was listed
    with it (``Payment.latest_charge_id`` is written in the same transaction as the list is
    recorded).

    A failed 3-D Secure check makes no charge: it is known only from ``last_payment_error``,
    by its payment method.
    """
    attempts: list[_Attempt] = []
    if facts.latest_charge_id and facts.latest_charge_id != payment.latest_charge_id:
        attempts = [
            _Attempt.failed_charge(charge, facts)
            for charge in gateway.charges_for_intent(facts.id)
            if charge.failed
        ]
    if (
        facts.status == PaymentStatus.REQUIRES_PAYMENT_METHOD
        and facts.error_code == AUTHENTICATION_FAILURE
        and not facts.error_charge_id
        and facts.error_payment_method_id
    ):
        # The latest failure of all: the intent would otherwise not be waiting for a card.
        failed_check = _Attempt(
            f"pm:{facts.error_payment_method_id}",
            "failed",
            failure_code=facts.error_code,
            decline_code=facts.error_decline_code,
            three_d_secure="failed",
        )
        attempts.insert(0, failed_check)
    return attempts


def _count_failed_attempts(
    payment: Payment, facts: IntentFacts, gateway: StripeGateway, audits: _PendingAudits
) -> None:
    """Record and count every failed attempt not counted before, once however often (and in
    whatever order) it is reported: the unique ``provider_ref`` decides, so duplicates, late
    events and concurrent callers never count one twice. Each one counted is audited."""
    attempts = _failed_attempts_reported(payment, facts, gateway)
    counted = [attempt for attempt in reversed(attempts) if _record_attempt(payment, attempt)]
    if not counted:
        return
    # The payment keeps the codes of the latest failure, which the customer is told about.
    latest = attempts[0]
    three_ds = "failed" if latest.three_d_secure == "failed" else payment.three_d_secure
    _update_row(
        payment,
        failed_attempts=Payment.failed_attempts + len(counted),
        failure_code=latest.failure_code,
        decline_code=latest.decline_code,
        three_d_secure=three_ds,
        updated_at=utcnow(),
    )
    # Numbered from the count as it now stands, so concurrent callers never number alike.
    first_number = payment.failed_attempts - len(counted) + 1
    for number, attempt in enumerate(counted, start=first_number):
        _audit_failed_attempt(facts, attempt, number, audits)


def _audit_failed_attempt(
    facts: IntentFacts, attempt: _Attempt, number: int, audits: _PendingAudits
) -> None:
    audits.add(
        "payment.failed",
        outcome="failure",
        details={
            "payment_intent": facts.id,
            "charge": attempt.charge.id if attempt.charge else None,
            "amount_minor": facts.amount,
            "currency": facts.currency,
            "failure_code": attempt.failure_code,
            "decline_code": attempt.decline_code,
            "attempt": number,
        },
    )


def _update_payment(
    payment: Payment, facts: IntentFacts, audits: _PendingAudits, reason: str | None
) -> bool:
    """Mirror the intent on the payment row; True if this call made it final (audited)."""
    now = utcnow()
    values: dict = {"status": facts.status, "updated_at": now}
    charge = facts.charge
    if facts.latest_charge_id is not None:
        # Written only with the charges listed up to it (``_failed_attempts_reported``).
        values["latest_charge_id"] = facts.latest_charge_id
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
        if charge is not None and charge.wallet:
            # Which wallet handed the card over (apple_pay, google_pay): the only wallet fact
            # kept. Brand and last four stored above are the card's own.
            details["wallet"] = charge.wallet
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


def _flag_if_over_limit(payment: Payment, facts: IntentFacts, audits: _PendingAudits) -> None:
    """Money was taken although the failed attempts (counted just now, from the charge list)
    had already reached the limit. The limit holds only once Postern hears of the declines:
    confirms sent straight to Stripe with the page's client secret, then a good card, all
    before any poll or webhook, find the intent still open, and Stripe charges the card
    (preventing that would need manual capture). The payment stays recorded as paid, because
    it was; the row asks someone to look (docs/payments.md, "Attempt limit")."""
    limit = max_attempts()
    if payment.failed_attempts < limit:
        return
    log.warning(
        "payment succeeded after its failed attempts reached the limit",
        extra={
            "payment_intent": facts.id,
            "failed_attempts": payment.failed_attempts,
            "limit": limit,
        },
    )
    audits.add(
        "payment.succeeded_over_limit",
        outcome="failure",
        details={
            "payment_intent": facts.id,
            "amount_minor": facts.amount,
            "currency": facts.currency,
            "failed_attempts": payment.failed_attempts,
            "limit": limit,
            "action_needed": "review",
        },
    )


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
