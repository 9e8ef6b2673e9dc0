"""Password history, passwords an administrator reset, and TOTP seeds sealed with the data keyring

- ``staff_password_history`` keeps the argon2 hashes of an account's previous passwords, so
  that none of the last four can be chosen again (PCI DSS 8.3.7).
- ``staff_users.password_must_change`` marks a temporary password set by an administrator:
  it opens only the change-password page (PCI DSS 8.3.5).
- ``staff_users.totp_secret`` held TOTP seeds in clear. They move, sealed with AES-256-GCM
  under the newest data key (``DATA_ENCRYPTION_KEYS``, as the app is configured when
  ``flask db upgrade`` runs), into ``totp_key_id``/``totp_nonce``/``totp_ciphertext``; then
  the clear column is dropped. Upgrading a database that holds seeds therefore needs the same
  data keys the app runs with; without them it stops before changing anything. Downgrading
  decrypts them back into the clear column.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 18:30:00

"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from config.keyring import parse_keyring
from portal.models.sealed_secret import SealedSeed, seal_seed, unseal_seed

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ONLY_THIS_TABLE = {"resolve_fks": False}

_staff = sa.table(
    "staff_users",
    sa.column("id", sa.Integer),
    sa.column("totp_secret", sa.String),
    sa.column("totp_key_id", sa.String),
    sa.column("totp_nonce", sa.LargeBinary),
    sa.column("totp_ciphertext", sa.LargeBinary),
)


def _keyring():
    # Flask-Migrate runs migrations inside the app (migrations/env.py), so the app's own
    # configuration is the one source of the keys.
    return parse_keyring(current_app.config.get("DATA_ENCRYPTION_KEYS"))


def upgrade():
    op.create_table(
        "staff_password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_password_history_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_password_history")),
    )
    with op.batch_alter_table("staff_password_history") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_password_history_user_id"), ["user_id"], unique=False
        )

    with op.batch_alter_table("staff_users", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(
            sa.Column(
                "password_must_change", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("totp_key_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("totp_nonce", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("totp_ciphertext", sa.LargeBinary(), nullable=True))
        batch_op.create_index(batch_op.f("ix_staff_users_totp_key_id"), ["totp_key_id"])

    bind = op.get_bind()
    clear = bind.execute(
        sa.select(_staff.c.id, _staff.c.totp_secret).where(_staff.c.totp_secret.is_not(None))
    ).all()
    if clear:
        keyring = _keyring()  # raises KeyringError (and the upgrade stops) without keys
        for user_id, seed in clear:
            sealed = seal_seed(keyring, user_id, seed)
            bind.execute(
                _staff.update()
                .where(_staff.c.id == user_id)
                .values(
                    totp_key_id=sealed.key_id,
                    totp_nonce=sealed.nonce,
                    totp_ciphertext=sealed.ciphertext,
                    totp_secret=None,
                )
            )

    with op.batch_alter_table("staff_users", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        # New rows always say; the default was for the rows already there.
        batch_op.alter_column("password_must_change", server_default=None)
        batch_op.drop_column("totp_secret")


def downgrade():
    with op.batch_alter_table("staff_users", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))

    bind = op.get_bind()
    sealed_rows = bind.execute(
        sa.select(
            _staff.c.id, _staff.c.totp_key_id, _staff.c.totp_nonce, _staff.c.totp_ciphertext
        ).where(_staff.c.totp_ciphertext.is_not(None))
    ).all()
    if sealed_rows:
        keyring = _keyring()
        for user_id, key_id, nonce, ciphertext in sealed_rows:
            seed = unseal_seed(keyring, user_id, SealedSeed(key_id, nonce, ciphertext))
            bind.execute(_staff.update().where(_staff.c.id == user_id).values(totp_secret=seed))

    with op.batch_alter_table("staff_users", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_users_totp_key_id"))
        batch_op.drop_column("totp_ciphertext")
        batch_op.drop_column("totp_nonce")
        batch_op.drop_column("totp_key_id")
        batch_op.drop_column("password_must_change")
    op.drop_table("staff_password_history")
