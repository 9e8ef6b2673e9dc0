"""Writing down how an attempt ended: sent, failed (retry or give up) or cancelled.

Each outcome is one transaction: the message row, its attempt row and an audit row. None of
them holds personal data: ids, channel, attempt number and a short error code only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from portal import audit
from portal.delivery.claims import OUTBOX
from portal.delivery.gateways import DEV, DeliveryError, SendResult
from portal.delivery.sealed_link import FORGET
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryAttempt, DeliveryMessage, MessageStatus

log = logging.getLogger("postern.delivery.worker")
ALREADY_SENT_WORDS = "Not needed: an earlier attempt had already been accepted."


@dataclass(frozen=True)
class Acceptance:
    """A provider accepted a message: everything needed to record it, without the database."""

    message_id: int
    attempt: int
    channel: str
    backend: str
    result: SendResult
    accepted_at: datetime


def record_sent(accepted: Acceptance) -> bool:
    """Record an acceptance: status, provider id, attempt, request status and audit row, in one
    transaction. Returns True. Safe to call again after an error: if the message is final
    already (recorded by a commit whose answer was lost, or finished meanwhile by a worker that
    took it over) it only marks this attempt sent and returns False. Raises whatever the
    database raises.
    """
    # Recorded even if our lease lapsed meanwhile (status back to queued, or claimed by
    # another worker): the customer has the message, and this stops it being sent again.
    recorded = OUTBOX.release(
        accepted.message_id,
        held_by=None,
        where=[DeliveryMessage.status.in_([MessageStatus.SENDING, MessageStatus.QUEUED])],
        status=MessageStatus.SENT,
        provider_message_id=accepted.result.provider_message_id[:120],
        backend=accepted.backend,
        sent_at=accepted.accepted_at,
        updated_at=accepted.accepted_at,
        next_attempt_at=None,
        last_error=None,
        last_error_code=None,
        **_forget_link_once_sent(accepted.backend),
    )
    if not recorded:
        # Final already: only note that this attempt did reach the provider.
        db.session.rollback()
        _close_as_sent(accepted)
        db.session.commit()
        return False
    # A worker that took over after our lease lapsed may have closed our attempt as lost, and
    # opened one of its own that has nothing left to send.
    _close_as_sent(accepted)
    db.session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.message_id == accepted.message_id, DeliveryAttempt.outcome.is_(None))
        .values(
            outcome="failed",
            finished_at=accepted.accepted_at,
            error_code="already_sent",
            error_message=ALREADY_SENT_WORDS,
        )
        .execution_options(synchronize_session=False)
    )
    request_id, notice = db.session.execute(
        select(DeliveryMessage.capture_request_id, DeliveryMessage.customer_notice).where(
            DeliveryMessage.id == accepted.message_id
        )
    ).one()
    # The request's own status is not touched: the capture service moved it to "sent" in the
    # transaction that queued this message.
    _audit(
        request_id,
        "delivery.sent",
        notice,
        details={
            "message_id": accepted.message_id,
            "channel": accepted.channel,
            "attempt": accepted.attempt,
        },
    )
    db.session.commit()
    return True


def record_failure(message_id: int, now: datetime, worker_id: str, problem: DeliveryError) -> str:
    """Schedule a retry (returns "retrying") or give up for good (returns "failed")."""
    attempt, channel, request_id, notice = _attempt_of(message_id)
    delay = None if problem.permanent else OUTBOX.backoff(attempt)
    final = delay is None
    if final:
        words = problem.message
        if not problem.permanent:
            words = f"Gave up after {attempt} attempts. {problem.message}".replace(
                " We will try again.", ""
            )
        values = {
            "status": MessageStatus.FAILED,
            "next_attempt_at": None,
            "last_error": words,
            **FORGET,
        }
    else:
        values = {
            "status": MessageStatus.QUEUED,
            "next_attempt_at": now + delay,
            "last_error": problem.message,
        }
    changed = OUTBOX.release(
        message_id,
        held_by=worker_id,
        where=[DeliveryMessage.status == MessageStatus.SENDING],
        last_error_code=problem.code[:40],
        updated_at=now,
        **values,
    )
    _close_attempt(
        message_id,
        attempt,
        now,
        outcome="failed",
        error_code=problem.code[:40],
        error_message=problem.message[:300],
    )
    _audit(
        request_id,
        "delivery.failed",
        notice,
        outcome="failure",
        details={
            "message_id": message_id,
            "channel": channel,
            "attempt": attempt,
            "error_code": problem.code[:40],
            "final": final,
        },
    )
    db.session.commit()
    if not changed:  # our lease lapsed and another worker owns the message now
        log.warning("delivery: message %s was reclaimed during attempt %s", message_id, attempt)
    return "failed" if final else "retrying"


def record_cancelled(message_id: int, now: datetime, worker_id: str, code: str, words: str) -> str:
    """Never send it: the link expired or the request was closed. Returns "cancelled"."""
    attempt, channel, request_id, notice = _attempt_of(message_id)
    OUTBOX.release(
        message_id,
        held_by=worker_id,
        status=MessageStatus.CANCELLED,
        next_attempt_at=None,
        last_error=words,
        last_error_code=code,
        updated_at=now,
        **FORGET,
    )
    _close_attempt(message_id, attempt, now, outcome="failed", error_code=code, error_message=words)
    _audit(
        request_id,
        "delivery.cancelled",
        notice,
        details={"message_id": message_id, "channel": channel, "reason": code},
    )
    db.session.commit()
    return "cancelled"


def _forget_link_once_sent(backend: str) -> dict:
    """A sent message forgets its link, except in the development outbox, whose page is where
    the developer "receives" it (it keeps the link sealed until retention empties it)."""
    return {} if backend == DEV else FORGET


def _close_as_sent(accepted: Acceptance) -> None:
    _close_attempt(
        accepted.message_id,
        accepted.attempt,
        accepted.accepted_at,
        outcome="sent",
        error_code=None,
        error_message=None,
    )


def _close_attempt(message_id: int, attempt: int, now: datetime, **values) -> None:
    db.session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.message_id == message_id, DeliveryAttempt.attempt_number == attempt)
        .values(finished_at=now, **values)
        .execution_options(synchronize_session=False)
    )


def _attempt_of(message_id: int) -> tuple[int, str, int | None, str | None]:
    row = db.session.execute(
        select(
            DeliveryMessage.attempts,
            DeliveryMessage.channel,
            DeliveryMessage.capture_request_id,
            DeliveryMessage.customer_notice,
        ).where(DeliveryMessage.id == message_id)
    ).one()
    return row.attempts, row.channel, row.capture_request_id, row.customer_notice


def _audit(request_id: int | None, action: str, notice: str | None = None, **fields) -> None:
    """Audit an outcome as the delivery worker: against its capture request, or, for a
    security notification to an admin (no request), as ``staff_notice.<outcome>``, so that
    link counts and the request's history never include it. A receipt or refund notice is
    audited against its request as ``receipt.<outcome>`` / ``refund_notice.<outcome>``, so it
    never counts as a link delivered either."""
    if notice is not None:
        action = f"{notice}." + action.removeprefix("delivery.")
    if request_id is None:
        outcome_action = "staff_notice." + action.removeprefix("delivery.")
        message_id = fields["details"]["message_id"]
        audit.record(
            outcome_action,
            actor=audit.DELIVERY_WORKER,
            target_type="delivery_message",
            target_id=message_id,
            **fields,
        )
        return
    audit.record_for(_public_id(request_id), action, audit.DELIVERY_WORKER, **fields)


def _public_id(request_id: int) -> str:
    """The request's public id, what its audit rows name it by (one column: the worker has no
    other use for the request's row)."""
    return db.session.execute(
        select(CaptureRequest.public_id).where(CaptureRequest.id == request_id)
    ).scalar_one()
