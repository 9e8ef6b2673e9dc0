"""Reconcile: ask Stripe for the truth about every payment not yet final, and repair what a
lost or late webhook left behind (``flask payments reconcile``).

For each payment whose PaymentIntent is not succeeded or canceled: write down an expiry that
is due; fetch the intent and apply it; then, if its request is closed (expired, revoked,
locked, failed) or overdue mid-payment, cancel the intent at Stripe so it can never be
charged. Every change is audited as ``payment.reconciled``. Safe to run at any time, on any
number of hosts: everything it applies goes through the same monotonic ``apply_intent``.

Then the further repairs the app installs under ``REPAIRS`` in ``app.extensions`` run, each
adding to the same report: refunds (``portal.refunds.reconcile``) and disputes
(``portal.disputes.reconcile``). They are installed rather than imported because both packages
build on this one (they use its gateway and facts), so importing them here would tie the
packages in a circle; ``portal.cli.register`` installs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from flask import current_app
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
#: ``app.extensions`` key of the further repairs: callables taking keyword arguments
#: ``gateway``, ``actor``, ``report`` and ``options``; each adds to the report and COMMITS.
REPAIRS = "postern_reconcile_repairs"


@dataclass(frozen=True)
class ReconcileOptions:
    #: Look for disputes on payments made in the last this many days (one call each).
    dispute_lookback_days: int = 7


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
    #: Payments whose refunds, and payments whose disputes, were asked about.
    refund_payments_checked: int = 0
    dispute_payments_checked: int = 0
    changes: list[Change] = field(default_factory=list)
    #: (request public id, payment intent, short error code) for payments Stripe could not
    #: tell us about this time; the next run tries again.
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"reconciled {self.checked} payment(s): {len(self.changes)} changed, "
            f"{len(self.errors)} could not be checked; refunds of "
            f"{self.refund_payments_checked} and disputes of {self.dispute_payments_checked} "
            "payment(s) asked about"
        )


def ids_in_batches(column, *conditions) -> Iterator[int]:
    """The distinct values of an integer id ``column`` (a payment's id) on the rows meeting
    ``conditions``, lowest first, read in batches of ``BATCH_SIZE`` (keyset, so rows changed by
    the caller between batches neither repeat nor go missing)."""
    last = 0
    while True:
        ids = list(
            db.session.execute(
                select(column)
                .where(column > last, *conditions)
                .group_by(column)
                .order_by(column)
                .limit(BATCH_SIZE)
            ).scalars()
        )
        if not ids:
            return
        yield from ids
        last = ids[-1]


def _open_payment_ids() -> Iterator[int]:
    """Ids of payments not yet final that have a PaymentIntent, oldest first, in batches."""
    return ids_in_batches(
        Payment.id,
        Payment.status.not_in(FINAL_PAYMENT_STATUSES),
        Payment.stripe_payment_intent_id.is_not(None),
    )


def repair_each(
    payment_ids: Iterator[int],
    repair: Callable[[Payment], list[str]],
    *,
    what: str,
    report: ReconcileReport,
) -> int:
    """Run ``repair`` (what changed, in words) on each payment, COMMITTING after each; a payment
    Stripe could not tell us about, or whose repair failed, is reported as ``"<what>: <code>"``
    and the others are still repaired. Returns how many payments were asked about."""
    asked = 0
    for payment_id in payment_ids:
        payment = db.session.get(Payment, payment_id)
        public_id = payment.capture_request.public_id
        intent_id = payment.stripe_payment_intent_id
        asked += 1
        try:
            changes = repair(payment)
        except (ProviderUnavailable, ProviderRejected) as problem:
            db.session.rollback()
            code = getattr(problem, "reason", None) or getattr(problem, "code", None) or "error"
            report.errors.append((public_id, intent_id, f"{what}: {code}"))
            continue
        except Exception as problem:
            # As for payments: one bad answer must not leave every other payment unrepaired.
            # Reported by class name only (an exception's text may quote data).
            db.session.rollback()
            report.errors.append((public_id, intent_id, f"{what}: {type(problem).__name__}"))
            log.exception("reconcile failed on a payment's %s; the others are still checked", what)
            continue
        db.session.commit()
        report.changes.extend(Change(public_id, intent_id, change) for change in changes)
    return asked


def reconcile(
    *, gateway: StripeGateway, actor: Actor, options: ReconcileOptions | None = None
) -> ReconcileReport:
    """Check every open payment against Stripe, as ``actor`` (``audit.RECONCILE`` from the
    command), then run the installed further repairs (``REPAIRS``: refunds, disputes). Returns
    what changed. COMMITS per payment."""
    report = ReconcileReport()
    _reconcile_open_payments(gateway, actor, report)
    for repair in current_app.extensions.get(REPAIRS, ()):
        repair(gateway=gateway, actor=actor, report=report, options=options or ReconcileOptions())
    return report


def _reconcile_open_payments(gateway: StripeGateway, actor: Actor, report: ReconcileReport):
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
