"""The facts of many requests' payments, gathered in a few queries, turned into standings.

``portal.payments.standing`` is pure: it derives what a payment reads as from facts handed to
it. This module hands them over for pages (the agent's panels, the back office's detail page):
the payment rows, the refund totals (``portal.refunds.queries``, the one home of "how much
went back") and each payment's latest dispute (``portal.disputes.queries``): three queries,
whatever the number of requests. The back office's list and CSV read the same facts as SQL
columns (``portal.reporting.payment_columns``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from portal.disputes.queries import latest_disputes
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.dispute import Dispute
from portal.models.payment import Payment
from portal.payments.attempt_limit import max_attempts
from portal.payments.standing import PaymentFacts, Standing, standing
from portal.refunds.queries import refund_totals


def facts_of(
    payment: Payment, totals: tuple[int, int], dispute: Dispute | None, limit: int
) -> PaymentFacts:
    refunded, pending = totals
    return PaymentFacts(
        status=payment.status,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        failed_attempts=payment.failed_attempts or 0,
        max_attempts=limit,
        failure_code=payment.failure_code,
        decline_code=payment.decline_code,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
        refunded_minor=refunded,
        pending_refund_minor=pending,
        dispute_status=dispute.status if dispute else None,
        dispute_amount_minor=dispute.amount_minor if dispute else 0,
    )


def payments_of(requests: Iterable[CaptureRequest]) -> dict[int, Payment]:
    """``{capture_request_id: payment}`` for the requests that have a payment row."""
    ids = [request.id for request in requests]
    if not ids:
        return {}
    rows = db.session.execute(select(Payment).where(Payment.capture_request_id.in_(ids)))
    return {payment.capture_request_id: payment for payment in rows.scalars()}


def standings_of_payments(payments: Iterable[Payment]) -> dict[int, Standing]:
    """``{payment_id: Standing}``. Needs an application context (the attempt limit)."""
    payments = list(payments)
    ids = [payment.id for payment in payments]
    totals = refund_totals(ids)
    disputes = latest_disputes(ids)
    limit = max_attempts()
    return {
        payment.id: standing(facts_of(payment, totals[payment.id], disputes.get(payment.id), limit))
        for payment in payments
    }


def standings_for(requests: Iterable[CaptureRequest]) -> dict[int, Standing]:
    """``{capture_request_id: Standing}`` for the requests that have a payment row (a payment
    request whose customer has not reached the payment page yet has none)."""
    payments = payments_of(requests)
    by_payment = standings_of_payments(payments.values())
    return {request_id: by_payment[payment.id] for request_id, payment in payments.items()}


def standing_of(payment: Payment | None) -> Standing | None:
    """One payment's standing (None for no payment)."""
    if payment is None:
        return None
    return standings_of_payments([payment])[payment.id]
