"""The audit log viewer's filter and pages (HTTP-free).

Filters, read from what staff typed by ``portal.backoffice.filter_forms``: action (exact, or a
prefix written ``payment.*``), actor (a staff username, or a non-staff actor such as ``system``,
``customer``, ``cli``, ``stripe-webhook``), target (type and/or id), and a date range in the
operator's time zone. Pages are keyset-paginated by ``seq``, newest first; each filter has an
index ending in ``seq`` (search_indexes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, select

from portal.models.audit import AuditEvent
from portal.reporting import keyset

AUDIT = AuditEvent.__table__


@dataclass(frozen=True)
class AuditFilter:
    """A validated audit search. ``None`` means "not filtered on"; ``actor_id`` is set when
    ``actor`` is a staff username, and dates are whole days in the operator's time zone."""

    action: str | None = None
    actor: str | None = None
    actor_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    timezone: str = "UTC"

    def query_params(self) -> dict[str, str]:
        params = {
            "action": self.action,
            "actor": self.actor,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "date_from": self.date_from and self.date_from.isoformat(),
            "date_to": self.date_to and self.date_to.isoformat(),
        }
        return {name: value for name, value in params.items() if value}


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filter_clauses(flt: AuditFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if flt.action:
        if flt.action.endswith(".*"):
            clauses.append(AUDIT.c.action.like(_like_prefix(flt.action[:-1]), escape="\\"))
        else:
            clauses.append(AUDIT.c.action == flt.action)
    if flt.actor:
        if flt.actor_id is not None:
            clauses.append(AUDIT.c.actor_id == flt.actor_id)
        else:
            clauses.append(AUDIT.c.actor_label == flt.actor)
    if flt.target_type:
        clauses.append(AUDIT.c.target_type == flt.target_type)
    if flt.target_id:
        clauses.append(AUDIT.c.target_id == flt.target_id)
    zone = ZoneInfo(flt.timezone)
    if flt.date_from:
        clauses.append(AUDIT.c.occurred_at >= datetime.combine(flt.date_from, time.min, zone))
    if flt.date_to:
        after = datetime.combine(flt.date_to + timedelta(days=1), time.min, zone)
        clauses.append(AUDIT.c.occurred_at < after)
    return clauses


def audit_query(flt: AuditFilter) -> Select:
    return select(*AUDIT.c).where(*filter_clauses(flt))


def audit_page(
    flt: AuditFilter, direction: keyset.Direction, size: int = keyset.DEFAULT_PAGE_SIZE
) -> keyset.Page:
    """One page of audit rows, newest first. Raises keyset.CursorError."""
    return keyset.seq_keyset(audit_query(flt), AUDIT.c.seq, direction, size)
