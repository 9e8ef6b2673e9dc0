"""API keys and idempotent API requests

``api_keys``: a key acts for one team with a set of scopes; only the SHA-256 of the key is
stored, found by its random lookup id. ``api_idempotent_requests``: one row per
``Idempotency-Key`` an API key sent, with the response to replay (purged after 24 hours).
``refunds.api_key_id``: the key that asked for a refund through the API (None when a person
asked in the back office); such a refund always waits for a person's approval.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 04:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_ONLY_THIS_TABLE = {"resolve_fks": False}


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("lookup_id", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_api_keys_team_id_teams")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_api_keys_created_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["staff_users.id"],
            name=op.f("fk_api_keys_revoked_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("lookup_id", name=op.f("uq_api_keys_lookup_id")),
    )
    op.create_index(op.f("ix_api_keys_team_id"), "api_keys", ["team_id"], unique=False)
    op.create_table(
        "api_idempotent_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_key_id", sa.String(length=32), nullable=True),
        sa.Column("response_nonce", sa.LargeBinary(), nullable=True),
        sa.Column("response_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_api_idempotent_requests_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotent_requests")),
        sa.UniqueConstraint(
            "api_key_id",
            "idempotency_key",
            name=op.f("uq_api_idempotent_requests_api_key_id"),
        ),
    )
    op.create_index(
        op.f("ix_api_idempotent_requests_created_at"),
        "api_idempotent_requests",
        ["created_at"],
        unique=False,
    )
    # Batch mode: SQLite cannot add a constraint to an existing table (see 0009).
    with op.batch_alter_table("refunds", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_refunds_api_key_id_api_keys", "api_keys", ["api_key_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("refunds", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_constraint("fk_refunds_api_key_id_api_keys", type_="foreignkey")
        batch_op.drop_column("api_key_id")
    op.drop_index(
        op.f("ix_api_idempotent_requests_created_at"), table_name="api_idempotent_requests"
    )
    op.drop_table("api_idempotent_requests")
    op.drop_index(op.f("ix_api_keys_team_id"), table_name="api_keys")
    op.drop_table("api_keys")
