"""The audit log viewer's filters and pages (HTTP-free).

Filters: action (exact, or a prefix written ``payment.*``), actor (a staff username, or a
non-staff actor such as ``system``, ``customer``, ``cli``, ``stripe-webhook``), target (type
and/or id), and a date range in the operator's time zone. Pages are keyset-paginated by
``seq``, newest first; each filter has an index ending in ``seq`` (search_indexes.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, select

from portal.models.audit import AuditEvent
from portal.reporting import keyset
from portal.reporting.filters import (
    CARD_NUMBER_REFUSED,
    CONTROL_REFUSED,
    MAX_TEXT,
    has_control_characters,
    parse_date,
)
from portal.security.pan import contains_pan

AUDIT = AuditEvent.__table__
LABELS = {
    "action": "Action",
    "actor": "Who",
    "target_type": "Target type",
    "target_id": "Target id",
    "date_from": "From",
    "date_to": "To",
}
FIELDS = tuple(LABELS)
_ACTION = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*(?:\.\*)?$", re.ASCII)
_ACTOR = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$", re.ASCII)
_TARGET_TYPE = re.compile(r"^[a-z_]{1,40}$", re.ASCII)


@dataclass(frozen=True)
class AuditFilter:
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


@dataclass
class ParsedAuditFilter:
    filter: AuditFilter
    errors: dict[str, str]
    values: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_audit_filter(
    raw: Mapping[str, str], *, timezone: str, find_staff: Callable[[str], int | None]
) -> ParsedAuditFilter:
    """Validate the viewer's filters; errors name their field."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    parsed: dict = {"timezone": timezone}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, f"{LABELS[name]}: {message}")

    for name in FIELDS:
        text = " ".join(str(raw.get(name) or "").split())
        if contains_pan(text):
            fail(name, CARD_NUMBER_REFUSED)
            continue
        if has_control_characters(text):
            fail(name, CONTROL_REFUSED)
            continue
        values[name] = text
        if len(text) > MAX_TEXT:
            fail(name, f"use at most {MAX_TEXT} characters.")
            continue
        if not text:
            continue
        if name == "action":
            if _ACTION.match(text):
                parsed["action"] = text
            else:
                fail(name, "enter an action like payment.failed, or payment.* for all of them.")
        elif name == "actor":
            if _ACTOR.match(text):
                parsed["actor"] = text
                parsed["actor_id"] = find_staff(text.lower())
            else:
                fail(name, "enter a staff username, or system, customer, cli or stripe-webhook.")
        elif name == "target_type":
            if _TARGET_TYPE.match(text):
                parsed["target_type"] = text
            else:
                fail(name, "enter a type like capture_request or staff_user.")
        elif name == "target_id":
            parsed["target_id"] = text
        else:
            try:
                parsed[name] = parse_date(text)
            except ValueError:
                fail(name, "enter a real date, like 2026-03-31.")
    if (
        parsed.get("date_from")
        and parsed.get("date_to")
        and parsed["date_to"] < parsed["date_from"]
    ):
        fail("date_to", "must be the same as or after From.")
    return ParsedAuditFilter(AuditFilter(**parsed), errors, values)


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
