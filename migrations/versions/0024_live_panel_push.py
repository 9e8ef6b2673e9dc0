"""live panel push: change notifications for the agent panel

Triggers, not the service layer, so that every writer is heard: the web app, the outbox and
webhook workers, the reconcile command and any later one. Each change to a capture request or
to a row its panel shows (messages, payments, refunds, disputes, captured data) sends
``NOTIFY postern_panel, '<request id>:<creator id>:<team id>'`` when its transaction commits
(PostgreSQL folds identical payloads of one transaction into one). Ending a staff session, or
changing an account's standing, tells the push service at once (``postern_staff``). The push
service (``portal.live_push``) listens; nothing else depends on these. SQLite has no
LISTEN/NOTIFY: there this migration does nothing and the console polls.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 07:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

#: Tables whose rows a panel shows, and how a row names its capture request.
_BY_REQUEST = ("delivery_messages", "payments", "data_submissions", "captured_values")
_BY_PAYMENT = ("refunds", "disputes")
_TRIGGERED = ("capture_requests", *_BY_REQUEST, *_BY_PAYMENT)

_PANEL_FUNCTION = """
CREATE OR REPLACE FUNCTION postern_panel_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed record;
    request_id integer;
    creator integer;
    team integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    IF TG_TABLE_NAME = 'capture_requests' THEN
        request_id := changed.id;
        creator := changed.created_by_id;
        team := changed.team_id;
    ELSE
        IF TG_TABLE_NAME IN ('refunds', 'disputes') THEN
            SELECT capture_request_id INTO request_id FROM payments WHERE id = changed.payment_id;
        ELSE
            request_id := changed.capture_request_id;
        END IF;
        IF request_id IS NULL THEN
            RETURN NULL;  -- a security notice's message: no panel shows it
        END IF;
        SELECT created_by_id, team_id INTO creator, team
        FROM capture_requests WHERE id = request_id;
    END IF;
    PERFORM pg_notify(
        'postern_panel',
        request_id::text || ':' || coalesce(creator::text, '') || ':' || coalesce(team::text, '')
    );
    RETURN NULL;
END;
$$
"""

_STAFF_FUNCTION = """
CREATE OR REPLACE FUNCTION postern_staff_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'staff_sessions' THEN
        PERFORM pg_notify('postern_staff', 'session:' || NEW.id::text);
    ELSE
        PERFORM pg_notify('postern_staff', 'user:' || NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$
"""


def _ddl(statement: str, table: str) -> sa.DDL:
    """``statement`` about ``table``'s push trigger: identifiers cannot be bound parameters, so
    SQLAlchemy's DDL fills in these fixed names (from ``_TRIGGERED`` only)."""
    if table not in _TRIGGERED:
        raise ValueError(f"no push trigger on {table!r}")
    return sa.DDL(statement, context={"table": table, "name": f"{table}_panel_notify"})


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    op.execute(_PANEL_FUNCTION)
    op.execute(_STAFF_FUNCTION)
    for table in _TRIGGERED:
        op.execute(
            _ddl(
                "CREATE TRIGGER %(name)s AFTER INSERT OR UPDATE OR DELETE ON %(table)s "
                "FOR EACH ROW EXECUTE FUNCTION postern_panel_notify()",
                table,
            )
        )
    # Only the changes that can end a stream: a session ended, an account disabled or moved.
    op.execute(
        "CREATE TRIGGER staff_sessions_push_notify AFTER UPDATE OF ended_at ON staff_sessions "
        "FOR EACH ROW WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL) "
        "EXECUTE FUNCTION postern_staff_notify()"
    )
    op.execute(
        "CREATE TRIGGER staff_users_push_notify "
        "AFTER UPDATE OF is_active, role, team_id ON staff_users "
        "FOR EACH ROW EXECUTE FUNCTION postern_staff_notify()"
    )


def downgrade() -> None:
    if not _postgres():
        return
    op.execute("DROP TRIGGER IF EXISTS staff_users_push_notify ON staff_users")
    op.execute("DROP TRIGGER IF EXISTS staff_sessions_push_notify ON staff_sessions")
    for table in _TRIGGERED:
        op.execute(_ddl("DROP TRIGGER IF EXISTS %(name)s ON %(table)s", table))
    op.execute("DROP FUNCTION IF EXISTS postern_staff_notify()")
    op.execute("DROP FUNCTION IF EXISTS postern_panel_notify()")
