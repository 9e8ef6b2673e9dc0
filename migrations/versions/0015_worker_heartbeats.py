"""Worker heartbeats

``worker_heartbeats``: one row per background worker process (outbox, webhooks), updated at
most once per interval as its loop goes round, so that a worker that hangs or dies is noticed
(``portal.observability.heartbeats``, the metric
``postern_worker_last_heartbeat_timestamp_seconds``). A new table: nothing to migrate.

Also a partial index of failed webhook events, so that the failed count every metrics scrape
reads stays an index lookup (``portal.models.queue_indexes``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_name", sa.String(length=32), nullable=False),
        sa.Column("worker_id", sa.String(length=100), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_heartbeats")),
        sa.UniqueConstraint("worker_id", name=op.f("uq_worker_heartbeats_worker_id")),
    )
    with op.batch_alter_table("worker_heartbeats") as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_heartbeats_beat_at"), ["beat_at"])
        batch_op.create_index(batch_op.f("ix_worker_heartbeats_worker_name"), ["worker_name"])
    op.create_index(
        "ix_processed_webhook_events_failed",
        "processed_webhook_events",
        ["received_at"],
        postgresql_where=sa.text("outcome = 'failed'"),
        sqlite_where=sa.text("outcome = 'failed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_processed_webhook_events_failed", table_name="processed_webhook_events")
    op.drop_table("worker_heartbeats")
