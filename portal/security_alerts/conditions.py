"""What each security notification watches: where its events come from, and what its details
say. Read-only: nothing here writes.

Bursts are counted from rows Postern already keeps: staff lockouts and identity-check locks
from the audit trail (``auth.account_locked``, ``capture.locked``), CSP violations from the
reports browsers sent about the payment page (``csp_reports``). States are asked for: the audit
chain's incremental verification (``portal.audit.chain_status``) and the workers' heartbeats
(``portal.observability.heartbeats``). Details hold counts and names from fixed lists only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from portal.audit import chain_status
from portal.audit.trail import trail
from portal.extensions import db
from portal.models.csp_report import CspReport
from portal.models.security_notification import NotificationKind
from portal.observability.heartbeats import silent_workers
from portal.observability.metrics import CSP_DIRECTIVES

#: The payment page's path as reports keep it (our own paths are cut to their route pattern).
PAYMENT_PAGE_SUFFIX = "/c/<token>/pay"


@dataclass(frozen=True)
class Burst:
    """A kind raised by at least ``threshold_setting`` events within the window."""

    kind: NotificationKind
    threshold_setting: str
    page_path: str

    def count(self, after: datetime, until: datetime) -> int:
        """Events in ``(after, until]``."""
        return db.session.execute(
            select(func.count()).select_from(self._events(after, until).subquery())
        ).scalar_one()

    def details(self, after: datetime, until: datetime) -> dict:
        if self.kind == NotificationKind.STAFF_LOCKOUTS:
            rows = trail()
            accounts = db.session.execute(
                select(func.count(func.distinct(rows.c.target_id))).where(
                    *_audit_where(rows, "auth.account_locked", after, until)
                )
            ).scalar_one()
            return {"accounts": accounts}
        if self.kind == NotificationKind.PAYMENT_PAGE_CSP:
            directives = db.session.execute(
                select(CspReport.effective_directive).where(*_csp_where(after, until))
            ).scalars()
            counted = Counter(name if name in CSP_DIRECTIVES else "other" for name in directives)
            return {"directives": dict(counted)}
        return {}

    def _events(self, after: datetime, until: datetime):
        # Sealed and pending rows: a row of the window not sealed yet when it is counted would
        # otherwise never be counted (the next window starts after it).
        rows = trail()
        if self.kind == NotificationKind.STAFF_LOCKOUTS:
            return select(rows.c.id).where(*_audit_where(rows, "auth.account_locked", after, until))
        if self.kind == NotificationKind.IDENTITY_LOCKS:
            return select(rows.c.id).where(*_audit_where(rows, "capture.locked", after, until))
        return select(CspReport.id).where(*_csp_where(after, until))


def _audit_where(rows, action: str, after: datetime, until: datetime) -> tuple:
    return (
        rows.c.action == action,
        rows.c.occurred_at > after,
        rows.c.occurred_at <= until,
    )


def _csp_where(after: datetime, until: datetime) -> tuple:
    return (
        CspReport.document_uri.endswith(PAYMENT_PAGE_SUFFIX, autoescape=True),
        CspReport.received_at > after,
        CspReport.received_at <= until,
    )


BURSTS = (
    Burst(NotificationKind.STAFF_LOCKOUTS, "ALERTS_STAFF_LOCKOUTS_THRESHOLD", "/backoffice/staff"),
    Burst(
        NotificationKind.IDENTITY_LOCKS,
        "ALERTS_IDENTITY_LOCKS_THRESHOLD",
        "/backoffice/transactions",
    ),
    Burst(NotificationKind.PAYMENT_PAGE_CSP, "ALERTS_PAYMENT_PAGE_CSP_THRESHOLD", "/backoffice/"),
)


@dataclass(frozen=True)
class State:
    """A condition that holds now, or not: ``count`` is 0 when all is well."""

    kind: NotificationKind
    count: int
    details: dict
    page_path: str


def audit_chain_state(now: datetime) -> State:
    """The audit chain as the incremental verification sees it now (ends the session's read
    transaction: call it before writing)."""
    status = chain_status.current_status(now)
    details = {} if status.ok else {"first_bad_seq": status.first_bad_seq, "damage": status.damage}
    return State(
        NotificationKind.AUDIT_CHAIN_BROKEN, 0 if status.ok else 1, details, "/backoffice/audit"
    )


def silent_worker_state(now: datetime) -> State:
    silent = silent_workers(now)
    workers = [
        {
            "name": worker.name,
            "last_beat_at": worker.last_beat_at.isoformat(timespec="seconds"),
            "interval_seconds": worker.interval_seconds,
        }
        for worker in silent
    ]
    return State(NotificationKind.WORKER_SILENT, len(silent), {"workers": workers}, "/backoffice/")
