"""disputes (chargebacks) mirrored from Stripe

``disputes``: one row per Stripe dispute of one of our payments (``portal.models.dispute``).
``refunds.retry_of_id``: the failed refund a refund tries again (at most one retry each).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 01:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


_ONLY_THIS_TABLE = {"resolve_fks": False}


def upgrade():
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("stripe_dispute_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_charge_id", sa.String(length=255), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("evidence_due_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("funds_withdrawn_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("funds_reinstated_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_disputes_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("stripe_dispute_id", name=op.f("uq_disputes_stripe_dispute_id")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disputes_status"), ["status"], unique=False)
    # Batch mode: SQLite cannot add a constraint to an existing table (see 0009).
    with op.batch_alter_table("refunds", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("retry_of_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_refunds_retry_of_id", ["retry_of_id"])
        batch_op.create_foreign_key(
            "fk_refunds_retry_of_id_refunds",
            "refunds",
            ["retry_of_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade():
    with op.batch_alter_table("refunds", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_constraint("fk_refunds_retry_of_id_refunds", type_="foreignkey")
        batch_op.drop_constraint("uq_refunds_retry_of_id", type_="unique")
        batch_op.drop_column("retry_of_id")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_status"))
        batch_op.drop_index(batch_op.f("ix_disputes_payment_id"))
    op.drop_table("disputes")
