"""Per-request data keys (crypto-shredding): envelope format for values, an erasure journal, and
the key store's table

- ``captured_values.format``: 1 = encrypted directly under a keyring key (every value stored
  before this revision; ``key_id`` names the key), 2 = encrypted under the capture request's own
  data key (``key_id`` empty). Existing rows become format 1; nothing is re-encrypted here:
  ``flask keys rotate`` (or ``flask keys convert-values``) converts them later, in batches,
  beside live traffic. A partial index finds the rows still to convert.
- ``erasure_journal``: the ids of requests whose values were erased, kept in the main
  database so that erasures can be applied again to a key store restored from a backup.
- ``data_keys`` is created in the KEY STORE (the ``keys`` bind, ``KEY_STORE_URL``), not in the
  main database: Alembic tracks the main database only, so the table is created here if the
  key store lacks it (the key store's schema follows the main database's revisions). Run
  ``flask db upgrade`` with the app's own ``KEY_STORE_URL`` set. Downgrading leaves the key
  store alone: its keys are still needed by the values.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:00:00

"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _key_store_table(metadata: sa.MetaData) -> sa.Table:
    """``data_keys`` as this revision creates it (portal/models/data_keys.py)."""
    return sa.Table(
        "data_keys",
        metadata,
        sa.Column("capture_request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapping_key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("capture_request_id", name="pk_data_keys"),
        sa.Index("ix_data_keys_wrapping_key_id", "wrapping_key_id"),
    )


def create_key_store_table(engine: sa.Engine) -> None:
    """Create ``data_keys`` in the key store at ``engine`` unless it is there already."""
    _key_store_table(sa.MetaData()).create(engine, checkfirst=True)


def upgrade():
    with op.batch_alter_table("captured_values") as batch:
        batch.add_column(sa.Column("format", sa.SmallInteger(), server_default="1", nullable=False))
        batch.alter_column("key_id", existing_type=sa.String(length=32), nullable=True)
        batch.create_check_constraint(
            "key_id_iff_keyring_format", "(format = 1) = (key_id IS NOT NULL)"
        )
    op.create_index(
        "ix_captured_values_keyring_format",
        "captured_values",
        ["id"],
        postgresql_where=sa.text("format = 1"),
        sqlite_where=sa.text("format = 1"),
    )
    op.create_table(
        "erasure_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("capture_request_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_erasure_journal"),
        sa.UniqueConstraint("capture_request_id", name="uq_erasure_journal_capture_request_id"),
    )
    op.create_index("ix_erasure_journal_erased_at", "erasure_journal", ["erased_at"])
    engines = current_app.extensions["migrate"].db.engines
    if "keys" not in engines:
        raise RuntimeError("the key store is not configured (KEY_STORE_URL): see 0016's docstring")
    create_key_store_table(engines["keys"])


def _count(sql: str) -> int:
    return op.get_bind().execute(sa.text(sql)).scalar_one()


def downgrade():
    # Refuse before anything is dropped (SQLite's DDL is not transactional): values in the
    # envelope format cannot go back under a keyring key without their data keys, and the
    # erasure journal is what re-applies erasures to a key store restored from a backup.
    remaining = _count("SELECT count(*) FROM captured_values WHERE format <> 1")
    if remaining:
        raise RuntimeError(
            f"{remaining} captured value(s) are in the envelope format: downgrading would make "
            "them unreadable. Erase them or keep this revision."
        )
    journaled = _count("SELECT count(*) FROM erasure_journal")
    if journaled:
        raise RuntimeError(
            f"the erasure journal holds {journaled} erasure(s): without it a restored key store "
            "could not have them re-applied. Keep this revision."
        )
    op.drop_index("ix_erasure_journal_erased_at", table_name="erasure_journal")
    op.drop_table("erasure_journal")
    op.drop_index("ix_captured_values_keyring_format", table_name="captured_values")
    with op.batch_alter_table("captured_values") as batch:
        batch.drop_constraint("key_id_iff_keyring_format", type_="check")
        batch.alter_column("key_id", existing_type=sa.String(length=32), nullable=False)
        batch.drop_column("format")
