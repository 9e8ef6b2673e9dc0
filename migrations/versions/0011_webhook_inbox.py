"""processed_webhook_events becomes the webhook inbox: events are queued, a worker handles them

The webhook endpoint now only verifies an event and records it (one INSERT), and answers
Stripe at once; ``flask webhooks work`` handles queued events, asks Stripe for the object's
current state and retries with backoff when Stripe cannot be reached. The new columns keep
what the worker needs (the ids the event is about, never its body) and its lease and retry
state. Rows already there were handled before this revision: their new columns stay empty.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 11:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ONLY_THIS_TABLE = {"resolve_fks": False}
_QUEUED = sa.text("outcome = 'queued'")


def upgrade():
    # Batch mode: SQLite cannot add a NOT NULL column with a default in every case, so
    # Alembic copies the table; PostgreSQL gets plain ALTER TABLE statements.
    with op.batch_alter_table(
        "processed_webhook_events", reflect_kwargs=_ONLY_THIS_TABLE
    ) as batch_op:
        batch_op.add_column(sa.Column("object_type", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("object_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("payment_intent_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("request_public_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_processed_webhook_events_payment_intent_id"),
            ["payment_intent_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_processed_webhook_events_queue",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=_QUEUED,
            sqlite_where=_QUEUED,
        )
    # The default was for the rows already there; new rows always say how many attempts.
    with op.batch_alter_table(
        "processed_webhook_events", reflect_kwargs=_ONLY_THIS_TABLE
    ) as batch_op:
        batch_op.alter_column("attempts", server_default=None)


def downgrade():
    with op.batch_alter_table(
        "processed_webhook_events", reflect_kwargs=_ONLY_THIS_TABLE
    ) as batch_op:
        batch_op.drop_index("ix_processed_webhook_events_queue")
        batch_op.drop_index(batch_op.f("ix_processed_webhook_events_payment_intent_id"))
        for column in (
            "handled_at",
            "last_error",
            "claimed_until",
            "claimed_by",
            "next_attempt_at",
            "attempts",
            "request_public_id",
            "payment_intent_id",
            "object_id",
            "object_type",
        ):
            batch_op.drop_column(column)
