"""Throttled security notifications to admins, carried by the outbox

``security_notifications``: one row per notification sent to admins (a burst of staff
lockouts or identity-check locks, CSP violations on the payment page, a broken audit chain, a
silent worker), numbered per kind; ``(kind, sequence)`` is unique so two processes never both
send the next one (``portal.security_alerts``).

``delivery_messages`` carries them: a message now belongs either to a capture request (a
customer's link, as before) or to a security notification (an email to one admin), never
both, never neither. Rows already there all belong to a request: nothing to migrate.

Downgrade deletes the notifications' messages first (they have no request to belong to).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ONLY_THIS_TABLE = {"resolve_fks": False}


def upgrade() -> None:
    op.create_table(
        "security_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("suppressed_count", sa.Integer(), nullable=False),
        sa.Column("held_back_count", sa.Integer(), nullable=False),
        sa.Column("counted_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("page_path", sa.String(length=200), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_notifications")),
        sa.UniqueConstraint("kind", "sequence", name=op.f("uq_security_notifications_kind")),
    )
    with op.batch_alter_table("delivery_messages", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.alter_column("capture_request_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("security_notification_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_delivery_messages_security_notification_id"),
            ["security_notification_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_delivery_messages_security_notification_id_security_notifications"),
            "security_notifications",
            ["security_notification_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            "one_subject",
            "(capture_request_id IS NULL) <> (security_notification_id IS NULL)",
        )


def downgrade() -> None:
    messages = sa.table(
        "delivery_messages",
        sa.column("capture_request_id", sa.Integer),
        sa.column("security_notification_id", sa.Integer),
    )
    op.get_bind().execute(messages.delete().where(messages.c.capture_request_id.is_(None)))
    with op.batch_alter_table("delivery_messages", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_delivery_messages_one_subject"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_delivery_messages_security_notification_id_security_notifications"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_delivery_messages_security_notification_id"))
        batch_op.drop_column("security_notification_id")
        batch_op.alter_column("capture_request_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("security_notifications")
