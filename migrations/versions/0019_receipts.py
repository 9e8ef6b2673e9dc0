"""receipts and refund notices through the outbox

``delivery_messages`` may now carry a customer notice besides a link: a receipt after a payment
(``customer_notice = 'receipt'``, ``payment_id`` set) or a notice after a refund
(``'refund_notice'``, ``refund_id`` set). ``notice_key`` is unique, so however often a success is
learned (webhooks, reloads, reconcile) the notice is queued once. Rows already there are links
or security notifications: the new columns stay NULL for them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 01:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_ONLY_THIS_TABLE = {"resolve_fks": False}


def upgrade() -> None:
    # Batch mode: SQLite cannot add a constraint to an existing table (see 0009).
    with op.batch_alter_table("delivery_messages", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("customer_notice", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("notice_key", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("payment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("refund_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_delivery_messages_notice_key", ["notice_key"])
        batch_op.create_index(
            batch_op.f("ix_delivery_messages_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_delivery_messages_refund_id"), ["refund_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_delivery_messages_payment_id_payments",
            "payments",
            ["payment_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            "fk_delivery_messages_refund_id_refunds",
            "refunds",
            ["refund_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    messages = sa.table("delivery_messages", sa.column("customer_notice", sa.String))
    # A notice has no link to fall back to: without its columns it would read as a broken link.
    op.get_bind().execute(messages.delete().where(messages.c.customer_notice.is_not(None)))
    with op.batch_alter_table("delivery_messages", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_constraint("fk_delivery_messages_refund_id_refunds", type_="foreignkey")
        batch_op.drop_constraint("fk_delivery_messages_payment_id_payments", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_delivery_messages_refund_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_messages_payment_id"))
        batch_op.drop_constraint("uq_delivery_messages_notice_key", type_="unique")
        batch_op.drop_column("refund_id")
        batch_op.drop_column("payment_id")
        batch_op.drop_column("notice_key")
        batch_op.drop_column("customer_notice")
