"""The outbox worker: claim due messages, send each once, record every attempt.

Exactly-once as far as the database can make it:

- Claiming is one conditional UPDATE per batch (``... WHERE id IN (...) AND <still due>``,
  ``portal.leases``), so two workers never both claim a message; on PostgreSQL the candidates
  are first picked with ``FOR UPDATE SKIP LOCKED`` so concurrent workers take different rows
  instead of queueing. The claim sets a lease (``claimed_by``/``claimed_until``) and is
  committed before sending.
- A success is written as one UPDATE (status ``sent`` + the provider's message id), with its
  attempt row and audit row, in one transaction. ``sent`` is final: nothing claims it again.
- Once a provider has accepted a message, the worker holds on to that acceptance and retries
  recording it (every 0.5 s, doubling to 2 s) until the database takes it, however long that
  is; meanwhile it sends nothing else. Asked to stop, it keeps trying for
  ``STOP_GRACE_SECONDS``, then logs at CRITICAL that the message was accepted by the provider
  but not recorded, so an operator knows it may be sent again. (An outage longer than the
  lease lets another worker take the message over: see ``_record_accepted``.)
- At-least-once, in one case only: a worker killed (SIGKILL, out of memory, power lost)
  between the provider's acceptance and the record. Its lease lapses, the message is claimed
  again and resent. Neither Twilio's Messages API nor SMTP has idempotency keys, so that cannot
  be prevented; an email keeps its Message-ID on every attempt so the receiving side can spot
  the repeat (texts have no such header). A repeated link is better than none while the
  customer waits on the phone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from portal.capture import states
from portal.delivery import outbox
from portal.delivery.claims import LOST_WORDS, claim_due
from portal.delivery.gateways import DeliveryError, OutgoingMessage, gateway_for
from portal.delivery.outcomes import Acceptance, record_cancelled, record_failure, record_sent
from portal.delivery.receipts import render_notice
from portal.delivery.sealed_link import LinkUnavailable
from portal.delivery.staff_notices import render_staff_notice
from portal.delivery.wording import RenderedMessage
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage, MessageStatus
from portal.models.types import utcnow
from portal.workers import new_worker_id

log = logging.getLogger("postern.delivery.worker")

INTERNAL_ERROR_WORDS = "Something went wrong on our side while sending. We will try again."
EXPIRED_WORDS = "Not sent: the link expired before it could be sent."
CLOSED_WORDS = "Not sent: the request was closed before the link could be sent."
LINK_UNAVAILABLE_WORDS = (
    "Not sent: the link could not be prepared on our side. Send a new link from the request."
)

#: Waits between tries to record an acceptance. Short, so that once the database is back this
#: worker records the message before anyone else could claim it again (see _record_accepted).
RECORD_RETRY_FIRST_SECONDS, RECORD_RETRY_MAX_SECONDS = 0.5, 2.0
#: How long a stopping worker keeps trying to record an acceptance before giving up loudly.
STOP_GRACE_SECONDS = 15.0
UNRECORDED = "unrecorded"


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
    now: datetime | None = None,
    batch: int | None = None,
    worker_id: str | None = None,
    stop: threading.Event | None = None,
    *,
    notices_only: bool = False,
) -> RunCounts:
    """Send every message due at ``now`` (default: the current time), up to ``batch`` of them.

    Needs an application context. Each message is finished (sent, retry scheduled, failed or
    cancelled) in its own transaction, so one bad message never holds up the rest. ``stop`` is
    the long-running worker's stop signal; without one (a single run) the worker counts as
    stopping already, so an acceptance it cannot record is given up after the grace period, and
    the rest of the batch is left for its lease to lapse. ``notices_only`` sends security
    notifications to admins and nothing else. Returns counts of what happened.
    """
    now = now or utcnow()
    batch = batch or current_app.config["DELIVERY_BATCH_SIZE"]
    worker_id = worker_id or new_worker_id()
    counts = RunCounts()
    claimed = claim_due(now, batch, worker_id, notices_only=notices_only)
    counts.claimed = len(claimed)
    gateways: dict[str, object] = {}
    for message_id in claimed:
        outcome = _process(message_id, now, worker_id, gateways, stop)
        if outcome is None:  # another worker took it over
            continue
        if outcome == UNRECORDED:  # stopping with the database still away: send nothing more
            counts.sent += 1
            break
        setattr(counts, outcome, getattr(counts, outcome) + 1)
    return counts


def _internal_error(message_id: int, now: datetime, worker_id: str, problem: Exception) -> str:
    """A bug (ours or a library's) before the provider accepted the message: retry later."""
    db.session.rollback()
    log.error("delivery: unexpected %s on message %s", type(problem).__name__, message_id)
    return record_failure(
        message_id,
        now,
        worker_id,
        DeliveryError("internal_error", INTERNAL_ERROR_WORDS, permanent=False),
    )


def _process(
    message_id: int, now: datetime, worker_id: str, gateways: dict, stop: threading.Event | None
) -> str | None:
    """Send one claimed message and record the outcome. Returns the RunCounts field to bump,
    None if the message is no longer ours, or UNRECORDED (see _record_accepted)."""
    try:
        message = db.session.get(DeliveryMessage, message_id)
        if message.status != MessageStatus.SENDING or message.claimed_by != worker_id:
            # Our lease lapsed (a slow batch, or a long wait to record an acceptance) and
            # another worker claimed the message: it is theirs to send now.
            db.session.commit()
            return None
        if message.capture_request_id is None:  # a security notification to an admin
            rendered = render_staff_notice(message)
        elif message.customer_notice:
            # A receipt or refund notice: about money already moved, so it goes out whatever
            # the request's status, and it carries no link to open.
            rendered = render_notice(message)
        else:
            request = db.session.get(CaptureRequest, message.capture_request_id)
            closed = _closed_reason(request, now)
            if closed:
                return record_cancelled(message_id, now, worker_id, *closed)
            rendered = _render(message, request)
        outgoing = OutgoingMessage(
            message_id=message.id,
            attempt_number=message.attempts,
            channel=message.channel,
            destination=message.destination or "",
            subject=rendered.subject,
            text_body=rendered.text_body,
            html_body=rendered.html_body,
        )
        if outgoing.attempt_number > current_app.config["DELIVERY_MAX_ATTEMPTS"]:
            lost = DeliveryError("worker_lost", LOST_WORDS, permanent=True)
            return record_failure(message_id, now, worker_id, lost)
        # End the read transaction: no transaction stays open while a provider is called.
        db.session.commit()
        if outgoing.channel not in gateways:
            gateways[outgoing.channel] = gateway_for(outgoing.channel, current_app.config)
        gateway = gateways[outgoing.channel]
        result = gateway.send(outgoing)
    except DeliveryError as problem:
        return record_failure(message_id, now, worker_id, problem)
    except Exception as problem:  # noqa: BLE001  (one message must not stop the batch)
        return _internal_error(message_id, now, worker_id, problem)
    # The provider has the message: from here on, never let it be sent again.
    accepted = Acceptance(
        message_id, outgoing.attempt_number, outgoing.channel, gateway.backend, result, now
    )
    return "sent" if _record_accepted(accepted, stop) else UNRECORDED


def _render(message: DeliveryMessage, request: CaptureRequest) -> RenderedMessage:
    """The message with its link, rendered only now, to send. Raises DeliveryError (permanent)
    when the sealed link cannot be opened: no attempt could send it."""
    try:
        return outbox.render(message, request)
    except LinkUnavailable as problem:
        log.error("delivery: %s", problem)
        raise DeliveryError("link_unavailable", LINK_UNAVAILABLE_WORDS, permanent=True) from None


def _record_accepted(accepted: Acceptance, stop: threading.Event | None) -> bool:
    """Record ``accepted``, retrying through a database outage for as long as it lasts.

    Returns False only when asked to stop (``stop`` set, or None) and the grace period ran out
    with the acceptance still unrecorded; that is logged at CRITICAL. Never raises.

    The lease is not extended while we wait: the database is away, so nothing can be written,
    and no other worker can claim the message either. A second send is possible only if the
    outage outlasts DELIVERY_LEASE_SECONDS: once the database is back, whichever worker reaches
    it first wins, so the retries stay short. A record that waited longer than a lease is logged.
    """
    started = time.monotonic()
    delay, give_up_at = RECORD_RETRY_FIRST_SECONDS, None
    while True:
        try:
            if not record_sent(accepted):
                log.warning(
                    "delivery: message %s was already recorded or final", accepted.message_id
                )
            break
        except Exception as problem:  # noqa: BLE001  (an outage and a bug look alike: keep trying)
            # On a dead connection the rollback may fail too; the next try starts afresh.
            with contextlib.suppress(Exception):
                db.session.rollback()
            failure = type(problem).__name__
        if stop is None or stop.is_set():
            give_up_at = give_up_at or time.monotonic() + STOP_GRACE_SECONDS
            if time.monotonic() >= give_up_at:
                log.critical(
                    "delivery: message %s was accepted by the provider but NOT recorded (%s): "
                    "it may be sent again once its lease lapses",
                    accepted.message_id,
                    failure,
                )
                return False
        log.error(
            "delivery: message %s was accepted by the provider; recording it failed (%s), "
            "trying again in %gs",
            accepted.message_id,
            failure,
            delay,
        )
        time.sleep(delay)
        delay = min(delay * 2, RECORD_RETRY_MAX_SECONDS)
    if time.monotonic() - started > current_app.config["DELIVERY_LEASE_SECONDS"]:
        log.warning(
            "delivery: message %s was recorded after waiting longer than its lease: another "
            "worker may have sent it as well",
            accepted.message_id,
        )
    return True


def _closed_reason(request: CaptureRequest, now: datetime) -> tuple[str, str] | None:
    """Why the link must not be sent any more (code, words), or None if it still may be."""
    status = states.effective_status(request, now)
    if status == states.Status.EXPIRED:
        return "link_expired", EXPIRED_WORDS
    if states.is_terminal(status):
        return "request_closed", CLOSED_WORDS
    return None
