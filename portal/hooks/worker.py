"""The webhook worker (``flask hooks work``): claim due deliveries, POST each, signed, and
record what came of it.

At least once: a delivery is marked succeeded only after a 2xx answer, in a transaction after
the POST; a worker that dies in between leaves its lease to lapse and the delivery is sent
again, with the same ``webhook-id``, which receivers use to drop the repeat. Anything but a 2xx
(a 3xx included: redirects are not followed), a timeout or a refused address is a failure,
retried with exponential backoff until ``HOOKS_RETRY_WINDOW_SECONDS`` after the event (three
days), then abandoned. An endpoint whose attempts keep failing is disabled
(``portal.hooks.failing``). No transaction stays open while the buyer's server is called.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import case, update

from portal.extensions import db
from portal.hooks import failing
from portal.hooks.events import event_body
from portal.hooks.queue import DELIVERIES, next_attempt
from portal.hooks.safe_http import Answer, policy_for, post
from portal.hooks.secrets import serialise, signed_headers, signing_secrets
from portal.models.hooks import HookAttempt, HookDelivery, HookDeliveryStatus, HookEndpoint
from portal.models.types import utcnow
from portal.workers import new_worker_id

log = logging.getLogger("postern.hooks.worker")
UNSIGNABLE = "no signing secret could be opened (data key missing?)"


@dataclass
class RunCounts:
    claimed: int = 0
    succeeded: int = 0
    retrying: int = 0
    abandoned: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "claimed": self.claimed,
            "succeeded": self.succeeded,
            "retrying": self.retrying,
            "abandoned": self.abandoned,
        }


def run_once(
    now: datetime | None = None, batch: int | None = None, worker_id: str | None = None
) -> RunCounts:
    """Send every delivery due at ``now`` (default: the current time), up to ``batch``, a
    request's events in order. Needs an application context. Each delivery is finished in its
    own transaction."""
    now = now or utcnow()
    batch = batch or current_app.config["HOOKS_BATCH_SIZE"]
    worker_id = worker_id or new_worker_id()
    counts = RunCounts()
    # Rounds: a request's next event becomes due only once the one before it is delivered
    # (``portal.hooks.queue``), so one claim would send one event per request per batch.
    while counts.claimed < batch:
        claimed = DELIVERIES.claim(now, batch - counts.claimed, worker_id)
        db.session.commit()
        if not claimed:
            break
        counts.claimed += len(claimed)
        for row in claimed:
            outcome = _deliver(row.id, worker_id)
            if outcome is not None:
                setattr(counts, outcome, getattr(counts, outcome) + 1)
    return counts


def _deliver(delivery_id: int, worker_id: str) -> str | None:
    """POST one claimed delivery and record it. Returns the RunCounts field to bump, or None
    when the lease was lost meanwhile."""
    delivery = db.session.get(HookDelivery, delivery_id)
    endpoint = db.session.get(HookEndpoint, delivery.endpoint_id)
    started = utcnow()
    try:
        secrets = signing_secrets(endpoint, started)
    except Exception as problem:  # noqa: BLE001  (a sealed secret that will not open)
        log.error("webhook endpoint %s: %s", endpoint.id, type(problem).__name__)
        secrets = []
    payload = serialise(event_body(delivery.event))
    url = endpoint.url
    message_id = delivery.event.public_id
    db.session.commit()  # no transaction stays open during the POST
    if not secrets:
        answer = Answer(None, UNSIGNABLE, 0)
    else:
        headers = signed_headers(message_id, payload, secrets, started)
        config = current_app.config
        answer = post(
            url,
            payload,
            headers,
            policy_for(config),
            connect_timeout=config["HOOKS_CONNECT_TIMEOUT_SECONDS"],
            read_timeout=config["HOOKS_READ_TIMEOUT_SECONDS"],
        )
    return record(delivery_id, worker_id, started, answer)


def record(delivery_id: int, worker_id: str, started: datetime, answer: Answer) -> str | None:
    """Write what ``answer`` means for the delivery, its endpoint and the log; commit."""
    delivery = db.session.get(HookDelivery, delivery_id)
    now = utcnow()
    if answer.succeeded:
        values = {
            "status": HookDeliveryStatus.SUCCEEDED.value,
            "delivered_at": now,
            "last_error": None,
        }
        outcome = "succeeded"
    else:
        retry_at = next_attempt(delivery.attempts, now, delivery.give_up_at)
        if retry_at is None:
            values, outcome = {"status": HookDeliveryStatus.ABANDONED.value}, "abandoned"
        else:
            values = {"status": HookDeliveryStatus.FAILED.value, "next_attempt_at": retry_at}
            outcome = "retrying"
        values["last_error"] = (answer.error or "failed")[:200]
    released = DELIVERIES.release(
        delivery_id,
        held_by=worker_id,
        last_status_code=answer.status_code,
        updated_at=now,
        **values,
    )
    if not released:
        db.session.rollback()
        log.warning("webhook delivery %s: lease lost; another worker has it", delivery_id)
        return None
    db.session.add(
        HookAttempt(
            delivery_id=delivery_id,
            endpoint_id=delivery.endpoint_id,
            started_at=started,
            duration_ms=answer.duration_ms,
            status_code=answer.status_code,
            succeeded=answer.succeeded,
            error=None if answer.succeeded else (answer.error or "failed")[:200],
        )
    )
    _count(delivery.endpoint_id, answer.succeeded, now)
    db.session.commit()
    return outcome


def _count(endpoint_id: int, succeeded: bool, now: datetime) -> None:
    """Keep the endpoint's run of failures (one UPDATE, so concurrent workers add up), and
    disable it once the run is long enough in both count and time."""
    if succeeded:
        values = {"consecutive_failures": 0, "failing_since": None}
    else:
        values = {
            "consecutive_failures": HookEndpoint.consecutive_failures + 1,
            "failing_since": case(
                (HookEndpoint.failing_since.is_(None), now), else_=HookEndpoint.failing_since
            ),
        }
    db.session.execute(
        update(HookEndpoint)
        .where(HookEndpoint.id == endpoint_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not succeeded:
        failing.disable_if_failing(endpoint_id, now)
