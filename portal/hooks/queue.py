"""The delivery queue: which deliveries a worker may take now, and when a failed one is tried
again.

``hook_deliveries`` is a lease-and-claim queue (``portal.leases``). A delivery is due when it is
still owed (pending, or failed with a retry scheduled), its time has come, no live lease holds
it, its endpoint is enabled, and no earlier delivery of the same request to the same endpoint
is still owed: a CRM hears about a request's events in the order they happened, and a request
whose earlier event keeps failing holds back its later ones until that one succeeds or is
abandoned. (Events of different requests are independent.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from portal.leases import LeaseQueue
from portal.models.hooks import OPEN_DELIVERY_STATUSES, HookDelivery, HookEndpoint
from portal.workers import retry_delay


def _due(now: datetime):
    earlier = aliased(HookDelivery)
    held_back = exists().where(
        earlier.endpoint_id == HookDelivery.endpoint_id,
        earlier.capture_request_id == HookDelivery.capture_request_id,
        earlier.id < HookDelivery.id,
        earlier.status.in_(OPEN_DELIVERY_STATUSES),
    )
    return and_(
        HookDelivery.status.in_(OPEN_DELIVERY_STATUSES),
        HookDelivery.next_attempt_at <= now,
        or_(HookDelivery.claimed_until.is_(None), HookDelivery.claimed_until < now),
        HookDelivery.endpoint_id.in_(select(HookEndpoint.id).where(HookEndpoint.enabled.is_(True))),
        ~held_back,
    )


DELIVERIES = LeaseQueue(
    HookDelivery,
    due=_due,
    lease_seconds_setting="HOOKS_LEASE_SECONDS",
    # Not used: a delivery is retried for a window of time, not a number of attempts.
    max_attempts_setting="HOOKS_BATCH_SIZE",
    retry_base_setting="HOOKS_RETRY_BASE_SECONDS",
    retry_max_setting="HOOKS_RETRY_MAX_SECONDS",
    claimed_values=lambda now: {"updated_at": now},
)


def next_attempt(attempt: int, now: datetime, give_up_at: datetime) -> datetime | None:
    """When to try again after attempt number ``attempt`` failed at ``now``: exponential
    backoff (``portal.workers.retry_delay``), or None when that would be past ``give_up_at``
    (the delivery is then abandoned)."""
    config = current_app.config
    delay = retry_delay(
        attempt, config["HOOKS_RETRY_BASE_SECONDS"], config["HOOKS_RETRY_MAX_SECONDS"]
    )
    when = now + delay
    return None if when > give_up_at else when


def retry_window() -> timedelta:
    return timedelta(seconds=current_app.config["HOOKS_RETRY_WINDOW_SECONDS"])
