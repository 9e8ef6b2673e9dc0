"""Claiming due messages: which worker may send which message, decided by the database.

One conditional UPDATE per message (``... WHERE id = :id AND <still due>``) decides, so two
workers never both claim a message. On PostgreSQL the candidates are picked first with
``FOR UPDATE SKIP LOCKED``, so concurrent workers take different rows instead of waiting on
each other. A claim is a lease (``claimed_by`` / ``claimed_until``): if its worker dies, the
lease lapses and another worker takes the message over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from portal.extensions import db
from portal.models.delivery import QUEUED, SENDING, DeliveryAttempt, DeliveryMessage

LOST_WORDS = "The sending process stopped during this attempt. We will try again."


def _due(now: datetime):
    """Queued and due, or claimed by a worker whose lease has lapsed."""
    return or_(
        and_(DeliveryMessage.status == QUEUED, DeliveryMessage.next_attempt_at <= now),
        and_(DeliveryMessage.status == SENDING, DeliveryMessage.claimed_until < now),
    )


def claim_due(now: datetime, batch: int, worker_id: str) -> list[int]:
    """Claim up to ``batch`` due messages for ``worker_id`` and commit. Returns their ids."""
    candidates = (
        select(DeliveryMessage.id)
        .where(_due(now))
        .order_by(DeliveryMessage.next_attempt_at, DeliveryMessage.id)
        .limit(batch)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    lease_until = now + timedelta(seconds=current_app.config["DELIVERY_LEASE_SECONDS"])
    claimed = []
    for message_id in db.session.execute(candidates).scalars().all():
        won = db.session.execute(
            update(DeliveryMessage)
            .where(DeliveryMessage.id == message_id, _due(now))
            .values(
                status=SENDING,
                claimed_by=worker_id,
                claimed_until=lease_until,
                attempts=DeliveryMessage.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            continue
        # A lapsed lease leaves its attempt open: close it before starting the next one.
        db.session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id, DeliveryAttempt.outcome.is_(None))
            .values(
                outcome="failed",
                finished_at=now,
                error_code="worker_lost",
                error_message=LOST_WORDS,
            )
            .execution_options(synchronize_session=False)
        )
        attempts = db.session.execute(
            select(DeliveryMessage.attempts).where(DeliveryMessage.id == message_id)
        ).scalar_one()
        db.session.add(
            DeliveryAttempt(
                message_id=message_id, attempt_number=attempts, worker=worker_id, started_at=now
            )
        )
        claimed.append(message_id)
    db.session.commit()
    return claimed
