"""The outbox worker: claim due messages, send each once, record every attempt.

Exactly-once as far as the database can make it:

- Claiming is one conditional UPDATE per message (``... WHERE id = :id AND <still due>``), so
  two workers never both claim a message; on PostgreSQL the candidates are first picked with
  ``FOR UPDATE SKIP LOCKED`` so concurrent workers take different rows instead of queueing.
  The claim sets a lease (``claimed_by``/``claimed_until``) and is committed before sending.
- A success is written as one UPDATE (status ``sent`` + the provider's message id), with its
  attempt row and audit row, in one transaction. ``sent`` is final: nothing claims it again.
- A worker that dies mid-send leaves its lease to lapse; the message is then claimed again
  and retried. Whether the provider got the lost attempt is unknowable (neither Twilio's
  Messages API nor SMTP has idempotency keys), so that rare case may deliver twice: a
  repeated link message is better than none while the customer waits on the phone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from portal import audit
from portal.audit.service import Actor
from portal.capture import states
from portal.delivery.claims import LOST_WORDS, claim_due
from portal.delivery.gateways import DeliveryError, OutgoingMessage, SendResult, gateway_for
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import (
    CANCELLED,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    DeliveryAttempt,
    DeliveryMessage,
)
from portal.models.types import utcnow
from portal.workers import new_worker_id, retry_delay

log = logging.getLogger("postern.delivery.worker")
WORKER_ACTOR = Actor("delivery-worker")

INTERNAL_ERROR_WORDS = "Something went wrong on our side while sending. We will try again."
EXPIRED_WORDS = "Not sent: the link expired before it could be sent."
CLOSED_WORDS = "Not sent: the request was closed before the link could be sent."


@dataclass
class RunCounts:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "cancelled": self.cancelled,
        }


def run_once(
    now: datetime | None = None, batch: int | None = None, worker_id: str | None = None
) -> RunCounts:
    """Send every message due at ``now`` (default: the current time), up to ``batch`` of them.

    Needs an application context. Each message is finished (sent, retry scheduled, failed or
    cancelled) in its own transaction, so one bad message never holds up the rest.
    Returns counts of what happened.
    """
    now = now or utcnow()
    batch = batch or current_app.config["DELIVERY_BATCH_SIZE"]
    worker_id = worker_id or new_worker_id()
    counts = RunCounts()
    claimed = claim_due(now, batch, worker_id)
    counts.claimed = len(claimed)
    gateways: dict[str, object] = {}
    for message_id in claimed:
        outcome = _process(message_id, now, worker_id, gateways)
        setattr(counts, outcome, getattr(counts, outcome) + 1)
    return counts


def _internal_error(message_id: int, now: datetime, worker_id: str, problem: Exception) -> str:
    """A bug (ours or a library's) before the provider accepted the message: retry later."""
    db.session.rollback()
    log.error("delivery: unexpected %s on message %s", type(problem).__name__, message_id)
    return _finish_failure(
        message_id,
        now,
        worker_id,
        DeliveryError("internal_error", INTERNAL_ERROR_WORDS, permanent=False),
    )


def _process(message_id: int, now: datetime, worker_id: str, gateways: dict) -> str:
    """Send one claimed message and record the outcome. Returns the RunCounts field to bump."""
    try:
        message = db.session.get(DeliveryMessage, message_id)
        request = db.session.get(CaptureRequest, message.capture_request_id)
        closed = _closed_reason(request, now)
        if closed:
            return _finish_cancelled(message_id, now, worker_id, *closed)
        outgoing = OutgoingMessage(
            message_id=message.id,
            attempt_number=message.attempts,
            channel=message.channel,
            destination=message.destination or "",
            subject=message.subject,
            text_body=message.text_body or "",
            html_body=message.html_body,
        )
        if outgoing.attempt_number > current_app.config["DELIVERY_MAX_ATTEMPTS"]:
            lost = DeliveryError("worker_lost", LOST_WORDS, permanent=True)
            return _finish_failure(message_id, now, worker_id, lost)
        # End the read transaction: no transaction stays open while a provider is called.
        db.session.commit()
        if outgoing.channel not in gateways:
            gateways[outgoing.channel] = gateway_for(outgoing.channel, current_app.config)
        gateway = gateways[outgoing.channel]
        result = gateway.send(outgoing)
    except DeliveryError as problem:
        return _finish_failure(message_id, now, worker_id, problem)
    except Exception as problem:  # noqa: BLE001  (one message must not stop the batch)
        return _internal_error(message_id, now, worker_id, problem)
    # The provider has the message: from here on, never let it be sent again.
    try:
        return _finish_sent(message_id, now, result, gateway.backend)
    except Exception as problem:  # noqa: BLE001  (keep at least the fact that it was sent)
        db.session.rollback()
        log.error("delivery: recording message %s: %s", message_id, type(problem).__name__)
        _mark_sent(message_id, now, result, gateway.backend)
        db.session.commit()
        return "sent"


def _closed_reason(request: CaptureRequest, now: datetime) -> tuple[str, str] | None:
    """Why the link must not be sent any more (code, words), or None if it still may be."""
    status = states.effective_status(request, now)
    if status == states.Status.EXPIRED:
        return "link_expired", EXPIRED_WORDS
    if states.is_terminal(status):
        return "request_closed", CLOSED_WORDS
    return None


def _close_attempt(message_id: int, attempt: int, now: datetime, **values) -> None:
    db.session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.message_id == message_id, DeliveryAttempt.attempt_number == attempt)
        .values(finished_at=now, **values)
        .execution_options(synchronize_session=False)
    )


def _attempt_of(message_id: int) -> tuple[int, str, str]:
    row = db.session.execute(
        select(
            DeliveryMessage.attempts, DeliveryMessage.channel, DeliveryMessage.capture_request_id
        ).where(DeliveryMessage.id == message_id)
    ).one()
    return row.attempts, row.channel, row.capture_request_id


def _mark_sent(message_id: int, now: datetime, result: SendResult, backend: str) -> None:
    # A success is recorded even if our lease lapsed meanwhile: the customer has the message.
    db.session.execute(
        update(DeliveryMessage)
        .where(DeliveryMessage.id == message_id, DeliveryMessage.status == SENDING)
        .values(
            status=SENT,
            provider_message_id=result.provider_message_id[:120],
            backend=backend,
            sent_at=now,
            updated_at=now,
            next_attempt_at=None,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
            last_error_code=None,
        )
        .execution_options(synchronize_session=False)
    )


def _finish_sent(message_id: int, now: datetime, result: SendResult, backend: str) -> str:
    """Status, provider id, attempt, request status and audit row: one transaction."""
    attempt, channel, request_id = _attempt_of(message_id)
    _mark_sent(message_id, now, result, backend)
    _close_attempt(message_id, attempt, now, outcome="sent")
    request = db.session.get(CaptureRequest, request_id)
    # The capture service normally moves created -> sent when it queues; this covers a
    # request that was still "created" (first successful send), and is a no-op otherwise.
    states.transition(request, states.Status.SENT, now=now)
    audit.record(
        "delivery.sent",
        target_type="capture_request",
        target_id=request.public_id,
        details={"message_id": message_id, "channel": channel, "attempt": attempt},
        actor=WORKER_ACTOR,
    )
    db.session.commit()
    return "sent"


def _finish_failure(message_id: int, now: datetime, worker_id: str, problem: DeliveryError) -> str:
    attempt, channel, request_id = _attempt_of(message_id)
    final = problem.permanent or attempt >= current_app.config["DELIVERY_MAX_ATTEMPTS"]
    if final:
        words = problem.message
        if not problem.permanent:
            words = f"Gave up after {attempt} attempts. {problem.message}".replace(
                " We will try again.", ""
            )
        values = {"status": FAILED, "next_attempt_at": None, "last_error": words}
    else:
        delay = retry_delay(
            attempt,
            current_app.config["DELIVERY_BACKOFF_BASE_SECONDS"],
            current_app.config["DELIVERY_BACKOFF_MAX_SECONDS"],
        )
        values = {"status": QUEUED, "next_attempt_at": now + delay, "last_error": problem.message}
    changed = db.session.execute(
        update(DeliveryMessage)
        .where(
            DeliveryMessage.id == message_id,
            DeliveryMessage.status == SENDING,
            DeliveryMessage.claimed_by == worker_id,
        )
        .values(
            last_error_code=problem.code[:40],
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
            **values,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    _close_attempt(
        message_id,
        attempt,
        now,
        outcome="failed",
        error_code=problem.code[:40],
        error_message=problem.message[:300],
    )
    audit.record(
        "delivery.failed",
        outcome="failure",
        target_type="capture_request",
        target_id=_public_id(request_id),
        details={
            "message_id": message_id,
            "channel": channel,
            "attempt": attempt,
            "error_code": problem.code[:40],
            "final": final,
        },
        actor=WORKER_ACTOR,
    )
    db.session.commit()
    if not changed:  # our lease lapsed and another worker owns the message now
        log.warning("delivery: message %s was reclaimed during attempt %s", message_id, attempt)
    return "failed" if final else "retrying"


def _finish_cancelled(message_id: int, now: datetime, worker_id: str, code: str, words: str) -> str:
    attempt, channel, request_id = _attempt_of(message_id)
    db.session.execute(
        update(DeliveryMessage)
        .where(DeliveryMessage.id == message_id, DeliveryMessage.claimed_by == worker_id)
        .values(
            status=CANCELLED,
            next_attempt_at=None,
            claimed_by=None,
            claimed_until=None,
            last_error=words,
            last_error_code=code,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    _close_attempt(message_id, attempt, now, outcome="failed", error_code=code, error_message=words)
    audit.record(
        "delivery.cancelled",
        target_type="capture_request",
        target_id=_public_id(request_id),
        details={"message_id": message_id, "channel": channel, "reason": code},
        actor=WORKER_ACTOR,
    )
    db.session.commit()
    return "cancelled"


def _public_id(request_id: int) -> str | None:
    return db.session.execute(
        select(CaptureRequest.public_id).where(CaptureRequest.id == request_id)
    ).scalar_one_or_none()
