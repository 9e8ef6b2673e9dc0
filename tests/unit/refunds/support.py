"""Rows for the refund unit tests: a paid payment, straight into the tables."""

from __future__ import annotations

import secrets

from portal.extensions import db
from portal.models.payment import Payment
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from tests.support.capture import capture_request_row


def paid_payment(staff_id: int, amount_minor: int = 5000, status: str = "succeeded") -> Payment:
    """A capture request and its payment, as if Stripe had said ``status``. Caller's app
    context; committed."""
    now = utcnow()
    request = capture_request_row(staff_id, now=now, status="succeeded", amount_minor=amount_minor)
    db.session.add(request)
    db.session.flush()
    payment = Payment(
        capture_request_id=request.id,
        amount_minor=amount_minor,
        currency="GBP",
        status=status,
        stripe_payment_intent_id=f"pi_{secrets.token_hex(8)}",
        created_at=now,
        updated_at=now,
    )
    db.session.add(payment)
    db.session.commit()
    return payment


def user(staff) -> StaffUser:
    return db.session.get(StaffUser, staff.id)
