"""Gauges read from the database when Prometheus scrapes: the queues, the workers' heartbeats
and the audit chain. The database is the only shared state, so whichever process answers the
scrape reports the same figures.

Each query is cheap (an index lookup; see ``portal.models.queue_indexes``) and, on PostgreSQL,
bounded by ``METRICS_QUERY_TIMEOUT_MS``. If the database does not answer, the scrape still
succeeds with ``postern_metrics_database_ok 0`` and without these gauges, rather than failing
(Prometheus would then lose the event counters too).

The audit chain's figures come from its incremental status (``portal.audit.chain_status``,
which verifies at most a budget of new rows per call and remembers how far it got), never
from a walk of the whole chain.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from portal.audit import anchors
from portal.audit.chain_status import current_status
from portal.extensions import db
from portal.models.audit import AuditPending
from portal.models.delivery import DeliveryMessage
from portal.models.payment import ProcessedWebhookEvent
from portal.models.types import utcnow
from portal.observability.heartbeats import newest_beats

log = logging.getLogger("postern.observability.metrics")

#: "audit_pending": audit rows committed and not yet sealed into the chain (portal.audit.sealer).
QUEUES = ("outbox", "webhook_inbox", "audit_pending")
#: The kinds of worker that beat (``portal.workers.HEARTBEAT_NAMES``).
WORKERS = ("outbox", "webhooks")
_OUTBOX_WAITING = ("queued", "sending")


class DatabaseCollector(Collector):
    """Collects within the app context of the scrape; nothing is kept between scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        up = GaugeMetricFamily(
            "postern_metrics_database_ok",
            "1 if the database answered this scrape's queries, else 0.",
        )
        try:
            families = list(self._families(utcnow()))
        except SQLAlchemyError as problem:
            db.session.rollback()
            log.warning("metrics: database gauges unavailable (%s)", type(problem).__name__)
            up.add_metric([], 0)
            yield up
            return
        finally:
            db.session.rollback()  # ends the read transaction (and its statement timeout)
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: datetime):
        self._limit_statement_time()
        yield from _queue_families(now)
        yield from _heartbeat_families()
        yield from _audit_families(now)

    def _limit_statement_time(self) -> None:
        if db.engine.dialect.name == "postgresql":
            timeout = int(self.app.config["METRICS_QUERY_TIMEOUT_MS"])
            # Local to this read transaction (collect() rolls it back), as SET LOCAL would be,
            # with the value bound rather than written into the statement.
            db.session.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": f"{timeout}ms"}
            )


def _queue_families(now: datetime):
    depth = GaugeMetricFamily(
        "postern_queue_depth", "Items waiting to be handled, per queue.", labels=["queue"]
    )
    oldest = GaugeMetricFamily(
        "postern_queue_oldest_age_seconds",
        "How long the oldest waiting item has waited, per queue (0 when empty).",
        labels=["queue"],
    )
    failed = GaugeMetricFamily(
        "postern_queue_failed",
        "Items that failed for good (every retry used up), per queue.",
        labels=["queue"],
    )
    message = DeliveryMessage
    outbox_waiting = db.session.execute(
        select(func.count(), func.min(message.created_at)).where(
            message.status.in_(_OUTBOX_WAITING)
        )
    ).one()
    outbox_failed = db.session.scalar(
        select(func.count()).select_from(message).where(message.status == "failed")
    )
    event = ProcessedWebhookEvent
    inbox_waiting = db.session.execute(
        select(func.count(), func.min(event.received_at)).where(event.outcome == "queued")
    ).one()
    inbox_failed = db.session.scalar(
        select(func.count()).select_from(event).where(event.outcome == "failed")
    )
    audit_waiting = db.session.execute(
        select(func.count(), func.min(AuditPending.occurred_at))
    ).one()
    for queue, (count, first), failures in (
        ("outbox", outbox_waiting, outbox_failed),
        ("webhook_inbox", inbox_waiting, inbox_failed),
        # A row the sealer refused (forged or edited) stays; verify names it.
        ("audit_pending", audit_waiting, 0),
    ):
        depth.add_metric([queue], count)
        oldest.add_metric([queue], _age(now, first))
        failed.add_metric([queue], failures)
    yield from (depth, oldest, failed)


def _age(now: datetime, then) -> float:
    if then is None:
        return 0.0
    if isinstance(then, str):  # SQLite's MIN() of a timestamp comes back as text
        then = datetime.fromisoformat(then).replace(tzinfo=now.tzinfo)
    elif then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return max((now - then).total_seconds(), 0.0)


def _heartbeat_families():
    last = GaugeMetricFamily(
        "postern_worker_last_heartbeat_timestamp_seconds",
        "Unix time of the newest heartbeat of any process of each kind of worker.",
        labels=["worker"],
    )
    interval = GaugeMetricFamily(
        "postern_worker_heartbeat_interval_seconds",
        "The interval that worker promised to beat within; silent past 3 intervals.",
        labels=["worker"],
    )
    for beat in newest_beats():
        if beat.name in WORKERS:
            last.add_metric([beat.name], beat.beat_at.timestamp())
            interval.add_metric([beat.name], beat.interval_seconds)
    yield from (last, interval)


def _audit_families(now: datetime):
    anchor = anchors.latest_anchor()  # first: the status check ends the read transaction
    status = current_status(now)
    verified = GaugeMetricFamily(
        "postern_audit_chain_verified",
        "1 if the audit chain verifies as far as checked (incrementally), 0 if broken.",
    )
    verified.add_metric([], 1 if status.ok else 0)
    yield verified
    if anchor is not None:
        age = GaugeMetricFamily(
            "postern_audit_chain_last_anchor_age_seconds",
            "Seconds since `flask audit verify` last anchored the chain's end.",
        )
        age.add_metric([], _age(now, anchor.anchored_at))
        yield age
