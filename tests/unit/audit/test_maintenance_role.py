"""On PostgreSQL the maintenance switch alone no longer deletes audit rows: the login must be a
member of postern_audit_maintainer, which the application's role is not.

The suite's own database user is a superuser (a member of every role), so these tests create
throw-away LOGIN roles without superuser rights, one outside the maintainer role (as the app's
role is) and one inside it (as the retention job's is), connect as each, and drop both after.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from portal.audit import checkpoints
from portal.audit.maintenance import MAINTAINER_ROLE, MaintenanceRefused
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.retention import AuditCheckpoint
from portal.models.types import utcnow
from tests.support.audit_rows import append_audit_rows, date_back_audit_rows
from tests.support.database import needs_postgres

pytestmark = [pytest.mark.postgres, needs_postgres("roles and the append-only trigger")]

#: What an application role is granted on the audit tables (more than it needs, DELETE too, so
#: that the refusal below is the trigger's and not a missing privilege).
APP_GRANTS = "SELECT, INSERT, UPDATE, DELETE"


@pytest.fixture
def logins(database_url):
    """Two throw-away LOGIN roles: (outside the maintainer role, a member of it), as URLs."""
    admin = create_engine(database_url)
    suffix = secrets.token_hex(4)
    outsider, member = f"postern_test_app_{suffix}", f"postern_test_retention_{suffix}"
    with admin.begin() as connection:
        connection.execute(text(f"CREATE ROLE {outsider} LOGIN NOSUPERUSER"))
        connection.execute(
            text(f"CREATE ROLE {member} LOGIN NOSUPERUSER IN ROLE {MAINTAINER_ROLE}")
        )
        schema = connection.execute(text("SELECT current_schema()")).scalar()
        connection.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {outsider}"))
        for table in ("audit_events", "audit_anchors", "audit_checkpoints"):
            connection.execute(text(f"GRANT {APP_GRANTS} ON {table} TO {outsider}"))
    url = make_url(database_url)
    yield (
        url.set(username=outsider).render_as_string(hide_password=False),
        url.set(username=member).render_as_string(hide_password=False),
    )
    with admin.begin() as connection:
        for role in (outsider, member):
            # Sessions still open as the role (a pool's) would keep DROP ROLE from succeeding.
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                {"r": role},
            )
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
    admin.dispose()


def test_the_outsider_is_no_superuser_and_no_member(app, logins):
    outsider_url, _ = logins
    engine = create_engine(outsider_url)
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT rolsuper, pg_has_role(current_user, :role, 'MEMBER') AS member "
                "FROM pg_roles WHERE rolname = current_user"
            ),
            {"role": MAINTAINER_ROLE},
        ).one()
    engine.dispose()
    assert (row.rolsuper, row.member) == (False, False)


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM audit_events WHERE seq = 3",
        "UPDATE audit_events SET actor_label = 'x' WHERE seq = 3",
        "DELETE FROM audit_anchors",
    ],
)
def test_outside_the_role_the_maintenance_switch_deletes_nothing(app, logins, statement):
    outsider_url, _ = logins
    with app.app_context():
        append_audit_rows(5)
        db.session.execute(
            text(
                "INSERT INTO audit_anchors (seq, row_hash, anchored_at, seal) "
                "VALUES (5, 'h', now(), 's')"
            )
        )
        db.session.commit()
    engine = create_engine(outsider_url)
    with (
        pytest.raises(DBAPIError, match=f"audit maintenance needs membership of {MAINTAINER_ROLE}"),
        engine.begin() as connection,
    ):
        connection.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
        connection.execute(text(statement))
    with (
        pytest.raises(DBAPIError, match="permission denied to set role"),
        engine.begin() as connection,
    ):
        connection.execute(text(f"SET LOCAL ROLE {MAINTAINER_ROLE}"))
    engine.dispose()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 5
        assert checkpoints.verify_audit_chain().ok


def _dated_back_chain() -> None:
    """30 rows, the first 20 of them dated ten years ago (re-hashed, as the superuser)."""
    append_audit_rows(30)
    date_back_audit_rows(through_seq=20)


def _cutoff():
    return utcnow() - timedelta(days=7 * 365)


def test_retention_on_a_login_outside_the_role_is_refused_saying_what_to_set(app_factory, logins):
    outsider_url, _ = logins
    app = app_factory(AUDIT_MAINTENANCE_DATABASE_URL=outsider_url)
    with app.app_context():
        _dated_back_chain()
        with pytest.raises(MaintenanceRefused) as refused:
            checkpoints.trim_batch(_cutoff(), 100)
        assert "POSTERN_AUDIT_MAINTENANCE_DATABASE_URL" in str(refused.value)
        assert f"is not a member of {MAINTAINER_ROLE}" in str(refused.value)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 30
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert result.exit_code == 1
    assert f"not a member of {MAINTAINER_ROLE}" in result.output


def test_a_member_login_trims_the_oldest_rows(app_factory, logins):
    _, member_url = logins
    app = app_factory(AUDIT_MAINTENANCE_DATABASE_URL=member_url)
    with app.app_context():
        _dated_back_chain()
        assert checkpoints.trim_batch(_cutoff(), 8) == 8
        assert checkpoints.trim_batch(_cutoff(), 100) == 12
        assert db.session.scalar(select(func.min(AuditEvent.seq))) == 21
        [checkpoint] = db.session.execute(select(AuditCheckpoint)).scalars()
        assert checkpoint.first_seq == 21
        assert checkpoints.verify_audit_chain().ok
        # The switch lasted for the trim's own transactions: the app's session is unchanged.
        assert db.session.scalar(
            text("SELECT current_setting('postern.audit_maintenance', true)")
        ) in (None, "")
