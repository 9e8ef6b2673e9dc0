"""Rows for the refund unit tests: a paid payment, straight into the tables."""

from __future__ import annotations

import secrets
from datetime import timedelta

from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment
from portal.models.staff import StaffUser
from portal.models.types import utcnow


def paid_payment(staff_id: int, amount_minor: int = 5000, status: str = "succeeded") -> Payment:
    """A capture request and its payment, as if Stripe had said ``status``. Caller's app
    context; committed."""
    now = utcnow()
    request = CaptureRequest(
        public_id=secrets.token_hex(5).upper(),
        kind="payment",
        status="succeeded",
        created_by_id=staff_id,
        amount_minor=amount_minor,
        currency="GBP",
        readback_code="1234",
        link_nonce_hash=secrets.token_hex(32),
        link_issued_at=now,
        expires_at=now + timedelta(minutes=15),
        created_at=now,
        updated_at=now,
    )
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
