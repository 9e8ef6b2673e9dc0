"""csp_reports: Content Security Policy violations reported by browsers (no personal data)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 20:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "csp_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report_format", sa.String(length=16), nullable=False),
        sa.Column("document_uri", sa.String(length=500), nullable=True),
        sa.Column("blocked_uri", sa.String(length=500), nullable=True),
        sa.Column("effective_directive", sa.String(length=64), nullable=True),
        sa.Column("violated_directive", sa.String(length=200), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("source_file", sa.String(length=500), nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("column_number", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csp_reports")),
    )
    with op.batch_alter_table("csp_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_csp_reports_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_csp_reports_effective_directive"), ["effective_directive"], unique=False
        )


def downgrade():
    with op.batch_alter_table("csp_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csp_reports_effective_directive"))
        batch_op.drop_index(batch_op.f("ix_csp_reports_received_at"))
    op.drop_table("csp_reports")
