"""Audit rows for tests of the chain, its anchors and retention's trim: appended as the system,
and the oldest dated back (re-hashed, so the chain still verifies) to fall due for the trim.
Call inside an app context."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from portal import audit
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.types import utcnow


def append_audit_rows(count: int) -> None:
    """``count`` rows (``test.event``, details ``{"n": n}``) by the system; committed."""
    for n in range(count):
        audit.record("test.event", details={"n": n}, actor=audit.SYSTEM)
    db.session.commit()


def date_back_audit_rows(through_seq: int, days: int = 3650) -> None:
    """Rows up to ``through_seq`` dated ``days`` back; every row re-hashed, since dating back
    without it would break the chain (on PostgreSQL with maintenance on, as the superuser the
    tests run as may); committed."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    prev = rows[0].prev_hash
    for row in rows:
        if row.seq <= through_seq:
            row.occurred_at = utcnow() - timedelta(days=days)
        row.prev_hash = prev
        row.row_hash = prev = audit.chain.compute_hash(row, audit.service.chain_key())
    db.session.commit()
