"""data-subject search by email address or mobile number

The outbox keeps each message's destination (normalised: E.164 numbers, email addresses with
the domain lower-cased) until the retention purge empties it; a data-subject search compares
it case-insensitively, so the index is on ``lower(destination)``.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 07:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_delivery_messages_lower_destination",
        "delivery_messages",
        [sa.text("lower(destination)")],
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_messages_lower_destination", table_name="delivery_messages")
