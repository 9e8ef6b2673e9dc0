"""back office search indexes: transactions list filters, card last4, audit log viewer

Composite B-trees ``(<filter>, created_at, id)`` let every keyset-paginated transactions query
read only the rows of the page it shows (no OFFSET, no sort), at any table size; see
``portal/models/search_indexes.py`` for what each index serves.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 18:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_CAPTURE_REQUESTS = (
    ("ix_capture_requests_created_at_id", ["created_at", "id"]),
    ("ix_capture_requests_status_created_at_id", ["status", "created_at", "id"]),
    ("ix_capture_requests_created_by_id_created_at_id", ["created_by_id", "created_at", "id"]),
    ("ix_capture_requests_team_id_created_at_id", ["team_id", "created_at", "id"]),
    ("ix_capture_requests_amount_minor", ["amount_minor"]),
)
_AUDIT_EVENTS = (
    ("ix_audit_events_action_seq", ["action", "seq"]),
    ("ix_audit_events_actor_id_seq", ["actor_id", "seq"]),
    ("ix_audit_events_target_id_seq", ["target_id", "seq"]),
)


def upgrade():
    for name, columns in _CAPTURE_REQUESTS:
        op.create_index(name, "capture_requests", columns, unique=False)
    op.create_index(
        "ix_capture_requests_lower_reference",
        "capture_requests",
        [sa.text("lower(reference)")],
        unique=False,
    )
    op.create_index("ix_payments_card_last4", "payments", ["card_last4"], unique=False)
    for name, columns in _AUDIT_EVENTS:
        op.create_index(name, "audit_events", columns, unique=False)


def downgrade():
    for name, _ in reversed(_AUDIT_EVENTS):
        op.drop_index(name, table_name="audit_events")
    op.drop_index("ix_payments_card_last4", table_name="payments")
    op.drop_index("ix_capture_requests_lower_reference", table_name="capture_requests")
    for name, _ in reversed(_CAPTURE_REQUESTS):
        op.drop_index(name, table_name="capture_requests")
