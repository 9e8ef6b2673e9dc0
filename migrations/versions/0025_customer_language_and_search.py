"""customer language on capture requests; case-insensitive reference search

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 07:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The language the customer is written to and shown pages in ("en" or "cy"). Existing
    # requests were all in English: the server default says so.
    with op.batch_alter_table("capture_requests") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=5), nullable=False, server_default="en")
        )


def downgrade() -> None:
    with op.batch_alter_table("capture_requests") as batch:
        batch.drop_column("language")
