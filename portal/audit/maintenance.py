"""The one way to delete audit rows: as the PostgreSQL role ``postern_audit_maintainer``.

On PostgreSQL the audit tables refuse UPDATE and DELETE unless the transaction has set
``postern.audit_maintenance = 'on'`` *and* its current user is a member of that NOLOGIN role
(migration 0012). The application's own role is never a member, so a session of the running
app (or anyone holding its database password) cannot delete rows, whatever it sets.

Retention's trim is the only caller. It runs on ``AUDIT_MAINTENANCE_DATABASE_URL`` when set (a
login that is a member of the role, used by the retention job alone), otherwise on the main
database URL, and switches to the role with SET LOCAL ROLE, which PostgreSQL allows members
only: a login without the membership is refused there, with the fix in the message, before it
touches a row. Everything ends with the transaction. SQLite has no roles and no trigger.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from portal.extensions import db

MAINTAINER_ROLE = "postern_audit_maintainer"
_ENGINE_KEY = "postern.audit_maintenance_engine"
#: Written out: a role name cannot be a bound parameter (MAINTAINER_ROLE names the same role).
_SET_ROLE = text("SET LOCAL ROLE postern_audit_maintainer")
_MAINTENANCE_ON = text("SET LOCAL postern.audit_maintenance = 'on'")


class MaintenanceRefused(RuntimeError):
    """Audit rows may not be deleted: the database login in use may not (not a member of the
    role), or the chain does not start where retention left it (``checkpoints._lanes_after``)."""


@contextmanager
def maintenance_session() -> Iterator[Session]:
    """The session to trim the audit chain in: one on ``AUDIT_MAINTENANCE_DATABASE_URL`` when
    that is set (closed afterwards), otherwise the app's own ``db.session``."""
    url = current_app.config.get("AUDIT_MAINTENANCE_DATABASE_URL")
    if not url:
        yield db.session()
        return
    engines = current_app.extensions.setdefault(_ENGINE_KEY, {})
    engine = engines.get(url) or engines.setdefault(url, create_engine(url, pool_pre_ping=True))
    with Session(engine) as session:
        yield session


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def enter_maintenance(session: Session) -> None:
    """Make the rest of ``session``'s transaction the maintainer's, allowed to delete audit
    rows. Raises MaintenanceRefused (transaction rolled back) if this login is not a member."""
    if not is_postgresql(session):
        return
    try:
        with session.begin_nested():
            session.execute(_SET_ROLE)
    except DBAPIError as refused:
        session.rollback()
        user = session.execute(text("SELECT session_user")).scalar()
        session.rollback()
        raise MaintenanceRefused(
            f"the database login {user!r} may not delete audit rows: it is not a member of "
            f"{MAINTAINER_ROLE}. Set POSTERN_AUDIT_MAINTENANCE_DATABASE_URL to the retention "
            "job's own login, a member of that role (see docs/audit-trail.md)"
        ) from refused
    session.execute(_MAINTENANCE_ON)
