"""Reconcile: ask Stripe for the truth about every payment not yet final, and repair what a
lost or late webhook left behind (``flask payments reconcile``).

For each payment whose PaymentIntent is not succeeded or canceled: write down an expiry that
is due; fetch the intent and apply it; then, if its request is closed (expired, revoked,
locked, failed) or overdue mid-payment, cancel the intent at Stripe so it can never be
charged. Every change is audited as ``payment.reconciled``. Safe to run at any time, on any
number of hosts: everything it applies goes through the same monotonic ``apply_intent``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

from portal import audit
from portal.audit import Actor
from portal.capture import service as capture_service
from portal.extensions import db
from portal.models.payment import FINAL_PAYMENT_STATUSES, Payment
from portal.payments import service
from portal.payments.gateway import ProviderRejected, ProviderUnavailable, StripeGateway
from portal.payments.sync import SyncOutcome

log = logging.getLogger("postern.payments.reconcile")
BATCH_SIZE = 200


@dataclass(frozen=True)
class Change:
    request_public_id: str
    payment_intent: str
    description: str

    def line(self) -> str:
        return f"{self.request_public_id} {self.payment_intent}: {self.description}"


@dataclass
class ReconcileReport:
    checked: int = 0
    changes: list[Change] = field(default_factory=list)
    #: (request public id, payment intent, short error code) for payments Stripe could not
    #: tell us about this time; the next run tries again.
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"reconciled {self.checked} payment(s): {len(self.changes)} changed, "
            f"{len(self.errors)} could not be checked"
        )


def _open_payment_ids() -> Iterator[int]:
    """Ids of payments not yet final that have a PaymentIntent, oldest first, in batches."""
    last = 0
    while True:
        ids = list(
            db.session.execute(
                select(Payment.id)
                .where(
                    Payment.id > last,
                    Payment.status.not_in(FINAL_PAYMENT_STATUSES),
                    Payment.stripe_payment_intent_id.is_not(None),
                )
                .order_by(Payment.id)
                .limit(BATCH_SIZE)
            ).scalars()
        )
        if not ids:
            return
        yield from ids
        last = ids[-1]


def reconcile(*, gateway: StripeGateway, actor: Actor) -> ReconcileReport:
    """Check every open payment against Stripe, as ``actor`` (``audit.RECONCILE`` from the
    command). Returns what changed. COMMITS per payment."""
    report = ReconcileReport()
    for payment_id in _open_payment_ids():
        payment = db.session.get(Payment, payment_id)
        if payment is None or payment.is_final:
            continue
        report.checked += 1
        request = payment.capture_request
        public_id, intent_id = request.public_id, payment.stripe_payment_intent_id
        payment_before, request_before = payment.status, request.status
        try:
            capture_service.expire_if_due(request, origin=actor.origin)
            db.session.commit()
            _, refreshed = service.refresh(payment, gateway=gateway, actor=actor)
            last = service.stop_if_closed(request, gateway=gateway, actor=actor) or refreshed
            outcome = SyncOutcome(
                payment_before, last.payment_after, request_before, last.request_after
            )
        except (ProviderUnavailable, ProviderRejected) as problem:
            db.session.rollback()
            code = getattr(problem, "reason", None) or getattr(problem, "code", None) or "error"
            report.errors.append((public_id, intent_id, str(code)))
            log.warning("reconcile could not check a payment", extra={"payment_intent": intent_id})
            continue
        except Exception as problem:
            # A bug, or an answer nobody foresaw, about this one payment: report it (by class
            # name only: an exception's text may quote data) and check the others, so one bad
            # payment cannot leave every other one unrepaired until someone notices.
            db.session.rollback()
            report.errors.append((public_id, intent_id, type(problem).__name__))
            log.exception(
                "reconcile failed on a payment; the others are still checked",
                extra={"payment_intent": intent_id},
            )
            continue
        if outcome.changed:
            audit.record_for(
                public_id,
                "payment.reconciled",
                actor,
                details={
                    "payment_intent": intent_id,
                    "payment_from": outcome.payment_before,
                    "payment_to": outcome.payment_after,
                    "request_from": outcome.request_before,
                    "request_to": outcome.request_after,
                },
            )
            db.session.commit()
            report.changes.append(Change(public_id, intent_id, outcome.describe()))
    return report
