"""audit retention checkpoints record how far each lane was trimmed

``audit_checkpoints.lanes_trimmed``: for each lane, the highest lane number retention has
deleted so far, sealed with the rest of the checkpoint, so that verification can insist each
lane's kept rows (sealed or pending) start just above it. Checkpoints written before have
none, and their lanes are checked as before.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 20:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.add_column(sa.Column("lanes_trimmed", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.drop_column("lanes_trimmed")
