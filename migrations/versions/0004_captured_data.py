"""captured personal data: encrypted values and submission records

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 14:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "data_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("capture_request_id", sa.Integer(), nullable=False),
        sa.Column("field_set", sa.String(length=32), nullable=False),
        sa.Column("privacy_notice_version", sa.String(length=40), nullable=False),
        sa.Column("retention_class", sa.String(length=40), nullable=False),
        sa.Column("fields_received", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(submitted_at IS NULL) <> (declined_at IS NULL)",
            name=op.f("ck_data_submissions_submitted_xor_declined"),
        ),
        sa.ForeignKeyConstraint(
            ["capture_request_id"],
            ["capture_requests.id"],
            name=op.f("fk_data_submissions_capture_request_id_capture_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_submissions")),
        sa.UniqueConstraint(
            "capture_request_id", name=op.f("uq_data_submissions_capture_request_id")
        ),
    )
    with op.batch_alter_table("data_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_submissions_erased_at"), ["erased_at"], unique=False
        )

    op.create_table(
        "captured_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("capture_request_id", sa.Integer(), nullable=False),
        sa.Column("field_name", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_request_id"],
            ["capture_requests.id"],
            name=op.f("fk_captured_values_capture_request_id_capture_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captured_values")),
        sa.UniqueConstraint(
            "capture_request_id", "field_name", name=op.f("uq_captured_values_capture_request_id")
        ),
    )
    with op.batch_alter_table("captured_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_captured_values_capture_request_id"),
            ["capture_request_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_captured_values_key_id"), ["key_id"], unique=False)


def downgrade():
    with op.batch_alter_table("captured_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_captured_values_key_id"))
        batch_op.drop_index(batch_op.f("ix_captured_values_capture_request_id"))
    op.drop_table("captured_values")
    with op.batch_alter_table("data_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_submissions_erased_at"))
    op.drop_table("data_submissions")
