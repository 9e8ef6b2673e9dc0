"""audit trail: pending rows written by requests, sealed into the chain by the sealer

- ``audit_pending``: audit rows as an action's transaction writes them, each with its own HMAC,
  numbered in a lane; ``flask audit seal`` links them into ``audit_events`` and deletes them.
- ``audit_lanes``: how many rows each lane has had, so that a pending row deleted before it was
  sealed leaves a gap (``portal.audit.pending``).
- ``audit_events.lane`` / ``lane_seq``: which pending row a sealed row was.

On PostgreSQL, as for the trail itself: a pending row cannot be updated, and is deleted only
once a row of ``audit_events`` carries its lane and number (sealed); a lane's count only grows
and a lane is never deleted. Audit maintenance (migration 0012's role and setting) may do
either. The sixteen lanes writers spread over are created here (and again on demand).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 07:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

LANES = 16

# Both guards first let audit maintenance through (migration 0012's role and setting).
PENDING_GUARD = """
CREATE OR REPLACE FUNCTION audit_pending_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('postern.audit_maintenance', true) = 'on'
       AND pg_has_role(current_user, 'postern_audit_maintainer', 'MEMBER') THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (
            SELECT 1 FROM audit_events WHERE lane = OLD.lane AND lane_seq = OLD.lane_seq
        ) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_pending row lane % #% is not sealed: it may not be deleted',
            OLD.lane, OLD.lane_seq;
    END IF;
    RAISE EXCEPTION 'audit_pending is append-only (% refused)', TG_OP;
END
$$
"""

LANES_GUARD = """
CREATE OR REPLACE FUNCTION audit_lanes_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('postern.audit_maintenance', true) = 'on'
       AND pg_has_role(current_user, 'postern_audit_maintainer', 'MEMBER') THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.lane = OLD.lane AND NEW.allocated >= OLD.allocated THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_lanes only count up (% refused)', TG_OP;
END
$$
"""

TRIGGERS = (
    "CREATE TRIGGER audit_pending_guard BEFORE UPDATE OR DELETE ON audit_pending "
    "FOR EACH ROW EXECUTE FUNCTION audit_pending_guard()",
    "CREATE TRIGGER audit_lanes_guard BEFORE UPDATE OR DELETE ON audit_lanes "
    "FOR EACH ROW EXECUTE FUNCTION audit_lanes_guard()",
)


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lane", sa.Integer(), nullable=False),
        sa.Column("lane_seq", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=120), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
        sa.UniqueConstraint("lane", "lane_seq", name="uq_audit_pending_lane_seq"),
    )
    op.create_index(op.f("ix_audit_pending_target_id"), "audit_pending", ["target_id"])
    lanes = op.create_table(
        "audit_lanes",
        sa.Column("lane", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_audit_lanes")),
    )
    op.bulk_insert(lanes, [{"lane": lane, "allocated": 0} for lane in range(LANES)])
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("lane", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("lane_seq", sa.BigInteger(), nullable=True))
    op.create_index("uq_audit_events_lane_seq", "audit_events", ["lane", "lane_seq"], unique=True)
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(PENDING_GUARD)
    op.execute(LANES_GUARD)
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_lanes_guard ON audit_lanes")
        op.execute("DROP TRIGGER IF EXISTS audit_pending_guard ON audit_pending")
        op.execute("DROP FUNCTION IF EXISTS audit_lanes_guard()")
        op.execute("DROP FUNCTION IF EXISTS audit_pending_guard()")
    op.drop_index("uq_audit_events_lane_seq", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("lane_seq")
        batch.drop_column("lane")
    op.drop_table("audit_lanes")
    op.drop_index(op.f("ix_audit_pending_target_id"), table_name="audit_pending")
    op.drop_table("audit_pending")
