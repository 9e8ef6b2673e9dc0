"""staff sessions: device and address columns; passkeys (WebAuthn credentials)

``staff_sessions`` learns the device a session signed in from (the parsed user agent, in words:
"Chrome on Windows") and the client's address, so that people can see their sessions and end
them. ``staff_passkeys`` holds each person's WebAuthn credentials (public key, sign counter,
backup flags); ``passkey_challenges`` keeps each ceremony's challenge on the server, single-use
and short-lived (see portal/models/passkey.py).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 07:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("staff_sessions", sa.Column("device", sa.String(length=80), nullable=True))
    op.add_column("staff_sessions", sa.Column("ip_address", sa.String(length=45), nullable=True))
    op.create_table(
        "staff_passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("user_handle", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("transports", sa.String(length=120), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("last_used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_staff_passkeys_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_staff_passkeys_credential_id")),
    )
    op.create_index(op.f("ix_staff_passkeys_user_id"), "staff_passkeys", ["user_id"], unique=False)
    op.create_table(
        "passkey_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        _when("expires_at"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_passkey_challenges_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_passkey_challenges_token_hash")),
    )
    op.create_index(
        op.f("ix_passkey_challenges_expires_at"),
        "passkey_challenges",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_passkey_challenges_expires_at"), table_name="passkey_challenges")
    op.drop_table("passkey_challenges")
    op.drop_index(op.f("ix_staff_passkeys_user_id"), table_name="staff_passkeys")
    op.drop_table("staff_passkeys")
    with op.batch_alter_table("staff_sessions") as batch:
        batch.drop_column("ip_address")
        batch.drop_column("device")
