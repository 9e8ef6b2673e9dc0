"""Indexes for the queue gauges that every metrics scrape reads (``portal.observability.
collector``): each count or oldest-age there must stay an index lookup however many handled
rows the tables hold. Migration 0015 creates them.

The outbox needs none of its own: ``ix_delivery_messages_status_next_attempt_at`` leads with
the status. Webhook events already have a partial index of queued rows; failed ones get one
here, small because failures are rare.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from portal.models.payment import ProcessedWebhookEvent

QUEUE_GAUGE_INDEXES = (
    Index(
        "ix_processed_webhook_events_failed",
        ProcessedWebhookEvent.__table__.c.received_at,
        postgresql_where=text("outcome = 'failed'"),
        sqlite_where=text("outcome = 'failed'"),
    ),
)
