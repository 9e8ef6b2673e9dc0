"""single sign-on: identities linked to staff users by issuer and subject

- ``sso_identities`` links a staff account to its account at an OpenID Provider, by the
  provider's issuer and subject, the one pair a provider never reuses.
- ``sso_sessions`` names the Postern sessions each sign-in through a provider opened, with the
  provider's session id (``sid``), so that its back-channel logout ends exactly those.
- ``sso_logout_tokens`` remembers the back-channel logout tokens acted on (a hash of issuer
  and ``jti``), so that a replayed token ends nothing.
- ``staff_sessions.mfa_by_provider`` says the provider proved a second factor (``amr``/``acr``)
  for the session, which then needs no locally enrolled one.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 07:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_ONLY_THIS_TABLE = {"resolve_fks": False}


def upgrade() -> None:
    op.create_table(
        "sso_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("mapped_groups", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_sso_identities_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_identities")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_sso_identities_issuer")),
    )
    with op.batch_alter_table("sso_identities") as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_identities_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sso_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_session_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("provider_sid", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["sso_identities.id"],
            name=op.f("fk_sso_sessions_identity_id_sso_identities"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_session_id"],
            ["staff_sessions.id"],
            name=op.f("fk_sso_sessions_staff_session_id_staff_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_sessions")),
    )
    with op.batch_alter_table("sso_sessions") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sso_sessions_staff_session_id"), ["staff_session_id"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_sso_sessions_identity_id"), ["identity_id"])
        batch_op.create_index(batch_op.f("ix_sso_sessions_provider_sid"), ["provider_sid"])

    op.create_table(
        "sso_logout_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_logout_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sso_logout_tokens_token_hash")),
    )
    with op.batch_alter_table("sso_logout_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_logout_tokens_received_at"), ["received_at"])

    with op.batch_alter_table("staff_sessions", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(
            sa.Column("mfa_by_provider", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("staff_sessions", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        # New rows always say; the default was for the rows already there.
        batch_op.alter_column("mfa_by_provider", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_column("mfa_by_provider")
    op.drop_table("sso_logout_tokens")
    op.drop_table("sso_sessions")
    op.drop_table("sso_identities")
