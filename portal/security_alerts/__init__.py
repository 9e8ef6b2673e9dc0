"""Security notifications to admins, by email through the outbox, throttled.

``run_checks`` looks at each condition once (a burst of staff lockouts, a burst of
identity-check locks, CSP violations on the payment page, a broken audit chain, a silent
worker) and sends what is due (``portal.security_alerts.notify``). It runs from cron as
``flask alerts check`` and between batches in every worker loop (``run_due_checks``, at most
every ``ALERTS_CHECK_SECONDS`` per process). Thresholds, window and throttle are settings
(``ALERTS_*``, config/settings.py); docs/alerts.md is the runbook.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from flask import current_app

from portal import audit
from portal.delivery import worker
from portal.extensions import db
from portal.models.types import utcnow
from portal.security_alerts.conditions import BURSTS, audit_chain_state, silent_worker_state
from portal.security_alerts.notify import SENT, Outcome, check_burst, check_state
from portal.workers import HEARTBEAT_NAMES

log = logging.getLogger("postern.security_alerts")
_STATE_KEY = "postern.security_alerts"
#: The heartbeat name of ``flask outbox work``.
OUTBOX_WORKER = HEARTBEAT_NAMES["outbox worker"]


def run_checks(now: datetime | None = None, actor: audit.Actor = audit.SYSTEM) -> list[Outcome]:
    """Check every condition at ``now`` (default: the current time) and queue the notifications
    that are due, audited as ``actor``. Each condition commits on its own. Returns what
    happened to each, in a fixed order. Raises the database's errors."""
    now = now or utcnow()
    # First: the chain's verification ends the session's read transaction.
    chain, workers = audit_chain_state(now), silent_worker_state(now)
    outcomes = [check_burst(burst, now, actor) for burst in BURSTS]
    outcomes += [check_state(state, now, actor) for state in (chain, workers)]
    silent = {entry["name"] for entry in workers.details["workers"]}
    sent_now = {outcome.kind for outcome in outcomes if outcome.result == SENT}
    if workers.kind in sent_now and OUTBOX_WORKER in silent:
        # The worker that sends the outbox is the one that went silent: send the notices
        # from here, or they would wait for it.
        worker.run_once(now=max(now, utcnow()), notices_only=True)
    return outcomes


def run_due_checks() -> None:
    """``run_checks`` if this process has not run them for ``ALERTS_CHECK_SECONDS`` (0: never).
    For worker loops: logs and swallows any error, so a failing check never stops a worker."""
    every = current_app.config["ALERTS_CHECK_SECONDS"]
    state = current_app.extensions.setdefault(_STATE_KEY, {"next_at": 0.0})
    if every <= 0 or time.monotonic() < state["next_at"]:
        return
    state["next_at"] = time.monotonic() + every
    try:
        run_checks()
    except Exception as problem:  # noqa: BLE001  (the worker's own work comes first)
        db.session.rollback()
        log.error("security checks failed: %s", type(problem).__name__)
