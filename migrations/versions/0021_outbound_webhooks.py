"""outbound webhooks: endpoints, events and deliveries

The buyer's endpoints (``hook_endpoints``) with their signing secrets sealed by the data keyring
(``hook_secrets``), the events Postern emits about capture requests (``hook_events``), one
delivery per event and endpoint worked as a lease-and-claim queue (``hook_deliveries``), and
every attempt (``hook_attempts``): see portal/models/hooks.py and docs/webhooks.md.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 04:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "hook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=40), nullable=True),
        _when("disabled_at", nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _when("failing_since", nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_hook_endpoints_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_hook_endpoints_created_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_endpoints")),
    )
    op.create_index(
        "ix_hook_endpoints_enabled_team", "hook_endpoints", ["enabled", "team_id"], unique=False
    )
    op.create_table(
        "hook_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _when("created_at"),
        _when("expires_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["hook_endpoints.id"],
            name=op.f("fk_hook_secrets_endpoint_id_hook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_secrets")),
    )
    op.create_index(
        op.f("ix_hook_secrets_endpoint_id"), "hook_secrets", ["endpoint_id"], unique=False
    )
    op.create_table(
        "hook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("capture_request_id", sa.Integer(), nullable=True),
        sa.Column("capture_request_public_id", sa.String(length=16), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        _when("occurred_at"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_request_id"],
            ["capture_requests.id"],
            name=op.f("fk_hook_events_capture_request_id_capture_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_events")),
        sa.UniqueConstraint("public_id", name=op.f("uq_hook_events_public_id")),
    )
    op.create_index(
        op.f("ix_hook_events_capture_request_id"),
        "hook_events",
        ["capture_request_id"],
        unique=False,
    )
    op.create_table(
        "hook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("capture_request_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        _when("give_up_at"),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        _when("claimed_until", nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        _when("delivered_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["hook_events.id"],
            name=op.f("fk_hook_deliveries_event_id_hook_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["hook_endpoints.id"],
            name=op.f("fk_hook_deliveries_endpoint_id_hook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_deliveries")),
        sa.UniqueConstraint("event_id", "endpoint_id", name=op.f("uq_hook_deliveries_event_id")),
    )
    op.create_index(
        op.f("ix_hook_deliveries_endpoint_id"), "hook_deliveries", ["endpoint_id"], unique=False
    )
    op.create_index(
        "ix_hook_deliveries_status_next_attempt_at",
        "hook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_hook_deliveries_endpoint_request",
        "hook_deliveries",
        ["endpoint_id", "capture_request_id", "id"],
        unique=False,
    )
    op.create_table(
        "hook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        _when("started_at"),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["hook_deliveries.id"],
            name=op.f("fk_hook_attempts_delivery_id_hook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["hook_endpoints.id"],
            name=op.f("fk_hook_attempts_endpoint_id_hook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_attempts")),
    )
    op.create_index(
        op.f("ix_hook_attempts_delivery_id"), "hook_attempts", ["delivery_id"], unique=False
    )
    op.create_index(
        "ix_hook_attempts_endpoint_started",
        "hook_attempts",
        ["endpoint_id", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("hook_attempts")
    op.drop_table("hook_deliveries")
    op.drop_table("hook_events")
    op.drop_table("hook_secrets")
    op.drop_table("hook_endpoints")
