"""Refunds and disputes written straight into the database, for the back-office tests that
read them (list, detail, CSV, dashboard). How they come about (Stripe's answers, webhooks) is
tested in the refunds and disputes tests; here only what staff then read matters."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select


def payment_id_of(app, public_id: str) -> int:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment

    with app.app_context():
        return db.session.execute(
            select(Payment.id)
            .join(CaptureRequest, CaptureRequest.id == Payment.capture_request_id)
            .where(CaptureRequest.public_id == public_id)
        ).scalar_one()


def add_refund(app, public_id: str, amount_minor: int, status: str, staff_id: int) -> None:
    from portal.extensions import db
    from portal.models.refund import Refund
    from portal.models.types import utcnow

    payment_id = payment_id_of(app, public_id)
    with app.app_context():
        db.session.add(
            Refund(
                payment_id=payment_id,
                amount_minor=amount_minor,
                currency="GBP",
                reason_code="requested_by_customer",
                status=status,
                requested_by_id=staff_id,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        db.session.commit()


def add_dispute(app, public_id: str, amount_minor: int, status: str = "needs_response") -> None:
    from portal.extensions import db
    from portal.models.dispute import Dispute
    from portal.models.types import utcnow

    payment_id = payment_id_of(app, public_id)
    with app.app_context():
        db.session.add(
            Dispute(
                payment_id=payment_id,
                stripe_dispute_id=f"dp_test_{payment_id}_{status}",
                amount_minor=amount_minor,
                currency="GBP",
                reason="fraudulent",
                status=status,
                evidence_due_by=utcnow() + timedelta(days=7),
            )
        )
        db.session.commit()
