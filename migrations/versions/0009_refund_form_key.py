"""refunds.form_key: the one-time key of the form that asked for a refund, unique per requester

Sending the same refund form twice (a double click, a resubmission after a slow answer from
Stripe) must not make a second refund: the second submission finds the row the first one wrote
through this key. Nullable, so refunds recorded before it existed stay valid (NULLs never
collide in a unique constraint, on SQLite or PostgreSQL).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ONLY_THIS_TABLE = {"resolve_fks": False}


def upgrade():
    # Batch mode: SQLite cannot add a constraint to an existing table, so Alembic copies it
    # (CHECK and foreign keys included); PostgreSQL gets plain ALTER TABLE statements. Only
    # ``refunds`` itself is reflected (not the tables its foreign keys point at).
    with op.batch_alter_table("refunds", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("form_key", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(
            "uq_refunds_requested_by_id_form_key", ["requested_by_id", "form_key"]
        )


def downgrade():
    with op.batch_alter_table("refunds", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_constraint("uq_refunds_requested_by_id_form_key", type_="unique")
        batch_op.drop_column("form_key")
