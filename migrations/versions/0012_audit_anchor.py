"""Audit chain anchors and the maintenance role

- ``audit_anchors``: signed records of where the audit chain ended (the newest row's ``seq``
  and ``row_hash``, when, and an HMAC seal), kept outside ``audit_events`` so that deleting
  the newest audit rows no longer goes unnoticed (``portal.audit.anchors``). Append-only like
  the trail itself.
- On PostgreSQL, ``postern.audit_maintenance = 'on'`` alone no longer unlocks DELETE: the
  current user must also be a member of the NOLOGIN role ``postern_audit_maintainer``, created
  here if absent, which the application's own role must never be granted. The role gets only
  what retention's trim of the chain needs (docs/audit-trail.md, "The audit trail's two roles").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MAINTAINER_ROLE = "postern_audit_maintainer"

# Roles belong to the whole PostgreSQL cluster, not to one database: another database on the
# same server may have created it already, or be creating it at this very moment.
CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postern_audit_maintainer') THEN
        CREATE ROLE postern_audit_maintainer NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role postern_audit_maintainer does not exist and this user may not create it'
            USING HINT = 'Run "CREATE ROLE postern_audit_maintainer NOLOGIN" as a user with '
                         'CREATEROLE, then migrate again (docs/audit-trail.md).';
END
$$
"""

# Not SECURITY DEFINER: ``current_user`` is whoever runs the statement (or the role it SET).
GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('postern.audit_maintenance', true) = 'on' THEN
        IF pg_has_role(current_user, 'postern_audit_maintainer', 'MEMBER') THEN
            RETURN COALESCE(NEW, OLD);
        END IF;
        RAISE EXCEPTION '% is append-only (% refused): audit maintenance needs membership of '
            'postern_audit_maintainer, which % does not have', TG_TABLE_NAME, TG_OP, current_user;
    END IF;
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END
$$
"""

# Migration 0001's function, for the downgrade.
OLD_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('postern.audit_maintenance', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END
$$
"""

ANCHORS_TRIGGER = """
CREATE TRIGGER audit_anchors_append_only
BEFORE UPDATE OR DELETE ON audit_anchors
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
"""

# Exactly what ``portal.audit.checkpoints.trim_batch`` does after SET LOCAL ROLE: read and
# delete the oldest audit rows (and anchors older than them), replace the retention checkpoint.
GRANTS = (
    # The schema the tables live in (a schema made by CREATE SCHEMA grants PUBLIC nothing).
    f"""DO $$ BEGIN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {MAINTAINER_ROLE}', current_schema());
    END $$""",
    f"GRANT SELECT, DELETE ON audit_events TO {MAINTAINER_ROLE}",
    f"GRANT SELECT, DELETE ON audit_anchors TO {MAINTAINER_ROLE}",
    f"GRANT SELECT, INSERT, DELETE ON audit_checkpoints TO {MAINTAINER_ROLE}",
    f"GRANT USAGE ON SEQUENCE audit_checkpoints_id_seq TO {MAINTAINER_ROLE}",
)
REVOKES = (
    f"""DO $$ BEGIN
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {MAINTAINER_ROLE}', current_schema());
    END $$""",
    f"REVOKE ALL ON audit_events FROM {MAINTAINER_ROLE}",
    f"REVOKE ALL ON audit_checkpoints FROM {MAINTAINER_ROLE}",
    f"REVOKE ALL ON SEQUENCE audit_checkpoints_id_seq FROM {MAINTAINER_ROLE}",
)


def upgrade():
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seal", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(CREATE_ROLE)
    op.execute(GUARD_FUNCTION)
    op.execute(ANCHORS_TRIGGER)
    for grant in GRANTS:
        op.execute(grant)


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        for revoke in REVOKES:
            op.execute(revoke)
        op.execute(OLD_GUARD_FUNCTION)
        # The role is left in place: other databases on the same server may use it.
    op.drop_table("audit_anchors")
