"""Claiming due messages: which worker may send which message, decided by the database.

The outbox is a lease-and-claim queue (``portal.leases``): a batch of due messages is leased
by one conditional UPDATE, so two workers never both claim a message, and a claim is a lease
(``claimed_by`` / ``claimed_until``): if its worker dies, the lease lapses and another worker
takes the message over. Each claim opens an attempt row, in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import and_, or_, update

from portal.extensions import db
from portal.leases import LeaseQueue
from portal.models.delivery import DeliveryAttempt, DeliveryMessage, MessageStatus

LOST_WORDS = "The sending process stopped during this attempt. We will try again."


def _due(now: datetime):
    """Queued and due, or claimed by a worker whose lease has lapsed."""
    return or_(
        and_(
            DeliveryMessage.status == MessageStatus.QUEUED, DeliveryMessage.next_attempt_at <= now
        ),
        and_(DeliveryMessage.status == MessageStatus.SENDING, DeliveryMessage.claimed_until < now),
    )


OUTBOX = LeaseQueue(
    DeliveryMessage,
    due=_due,
    lease_seconds_setting="DELIVERY_LEASE_SECONDS",
    max_attempts_setting="DELIVERY_MAX_ATTEMPTS",
    retry_base_setting="DELIVERY_BACKOFF_BASE_SECONDS",
    retry_max_setting="DELIVERY_BACKOFF_MAX_SECONDS",
    claimed_values=lambda now: {"status": MessageStatus.SENDING, "updated_at": now},
)


#: The same queue, security notifications to admins only: sent by whoever raised one when the
#: outbox worker itself is what went silent (``portal.security_alerts``).
STAFF_NOTICES = replace(
    OUTBOX, due=lambda now: and_(_due(now), DeliveryMessage.security_notification_id.is_not(None))
)


def claim_due(
    now: datetime, batch: int, worker_id: str, *, notices_only: bool = False
) -> list[int]:
    """Claim up to ``batch`` due messages (only notifications to admins if ``notices_only``)
    for ``worker_id``, open an attempt for each, and commit. Returns their ids, in the order
    they fell due."""
    claimed = (STAFF_NOTICES if notices_only else OUTBOX).claim(now, batch, worker_id)
    ids = [row.id for row in claimed]
    if ids:
        # A lapsed lease leaves its attempt open: close it before starting the next one.
        db.session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.message_id.in_(ids), DeliveryAttempt.outcome.is_(None))
            .values(
                outcome="failed",
                finished_at=now,
                error_code="worker_lost",
                error_message=LOST_WORDS,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.add_all(
            DeliveryAttempt(
                message_id=row.id, attempt_number=row.attempts, worker=worker_id, started_at=now
            )
            for row in claimed
        )
    db.session.commit()
    return ids
