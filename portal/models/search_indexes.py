"""Indexes for the back office's searches (transactions list, export, dashboard, audit log).

Declared here, beside the models, so the metadata (and therefore the migration check) knows
them; migration 0006 creates them. Each one serves a keyset-paginated query of the form
``WHERE <filter> AND (created_at, id) < (:at, :id) ORDER BY created_at DESC, id DESC LIMIT n``:
a B-tree on ``(<filter column>, created_at, id)`` answers it by reading exactly ``n`` index
entries backwards, however many million rows the table holds. Ascending indexes serve the
descending order (PostgreSQL and SQLite scan a B-tree in either direction).
"""

from __future__ import annotations

from sqlalchemy import Index, func

from portal.models.audit import AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage
from portal.models.payment import Payment

CR = CaptureRequest.__table__
AUDIT = AuditEvent.__table__

BACKOFFICE_INDEXES = (
    # Newest first, date ranges, the dashboard's "today" and "this week".
    Index("ix_capture_requests_created_at_id", CR.c.created_at, CR.c.id),
    # Filter by status / agent / team, newest first.
    Index("ix_capture_requests_status_created_at_id", CR.c.status, CR.c.created_at, CR.c.id),
    Index(
        "ix_capture_requests_created_by_id_created_at_id",
        CR.c.created_by_id,
        CR.c.created_at,
        CR.c.id,
    ),
    Index("ix_capture_requests_team_id_created_at_id", CR.c.team_id, CR.c.created_at, CR.c.id),
    # Reference search is exact but case-insensitive ("acc-1001" finds "ACC-1001").
    Index("ix_capture_requests_lower_reference", func.lower(CR.c.reference)),
    # A data-subject search by email address or mobile number (portal.data_subject.service),
    # the address compared case-insensitively; migration 0027.
    Index(
        "ix_delivery_messages_lower_destination",
        func.lower(DeliveryMessage.__table__.c.destination),
    ),
    # "Find the £123.45 payment": amount ranges are usually narrow.
    Index("ix_capture_requests_amount_minor", CR.c.amount_minor),
    # "Find the payment made with the card ending 4242".
    Index("ix_payments_card_last4", Payment.__table__.c.card_last4),
    # The audit log viewer: a filter, newest first, by seq.
    Index("ix_audit_events_action_seq", AUDIT.c.action, AUDIT.c.seq),
    Index("ix_audit_events_actor_id_seq", AUDIT.c.actor_id, AUDIT.c.seq),
    Index("ix_audit_events_target_id_seq", AUDIT.c.target_id, AUDIT.c.seq),
)
