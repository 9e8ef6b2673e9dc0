"""capture requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "capture_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("create_key", sa.String(length=32), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("purpose", sa.String(length=140), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("interaction_id", sa.String(length=64), nullable=True),
        sa.Column("field_set", sa.String(length=32), nullable=True),
        sa.Column("identity_item", sa.String(length=16), nullable=True),
        sa.Column("identity_hash", sa.String(length=64), nullable=True),
        sa.Column("identity_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("readback_code", sa.String(length=8), nullable=False),
        sa.Column("link_nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("link_issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("link_channel", sa.String(length=10), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extension_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("resend_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bound_secret_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_capture_requests_created_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_capture_requests_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_requests")),
        sa.UniqueConstraint(
            "created_by_id", "create_key", name=op.f("uq_capture_requests_created_by_id")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_capture_requests_public_id")),
    )
    with op.batch_alter_table("capture_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_capture_requests_created_by_id"), ["created_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_capture_requests_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_capture_requests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_capture_requests_team_id"), ["team_id"], unique=False)


def downgrade():
    with op.batch_alter_table("capture_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capture_requests_team_id"))
        batch_op.drop_index(batch_op.f("ix_capture_requests_status"))
        batch_op.drop_index(batch_op.f("ix_capture_requests_expires_at"))
        batch_op.drop_index(batch_op.f("ix_capture_requests_created_by_id"))

    op.drop_table("capture_requests")
