"""The back office's transactions search, validated: what the queries filter on (HTTP-free).

``portal.backoffice.filter_forms`` reads it from what staff typed; ``portal.reporting.queries``
turns it into SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal.money import plain_amount


@dataclass(frozen=True)
class TransactionFilter:
    """A validated search. ``None`` means "not filtered on". Amounts are in minor units of
    ``currency``; dates are whole days in the operator's time zone."""

    status: str | None = None
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    agent: str | None = None
    agent_id: int | None = None
    team_id: int | None = None
    reference: str | None = None
    currency: str | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    card_last4: str | None = None
    timezone: str = field(default="UTC", compare=False)

    def created_from(self) -> datetime | None:
        """The first instant (aware) of ``date_from`` in the operator's zone."""
        if self.date_from is None:
            return None
        return datetime.combine(self.date_from, time.min, ZoneInfo(self.timezone))

    def created_before(self) -> datetime | None:
        """The first instant after ``date_to`` (exclusive upper bound)."""
        if self.date_to is None:
            return None
        return datetime.combine(self.date_to + timedelta(days=1), time.min, ZoneInfo(self.timezone))

    def query_params(self) -> dict[str, str]:
        """The filter as query-string parameters (for page links and the export link)."""
        params = {
            "status": self.status,
            "kind": self.kind,
            "date_from": self.date_from and self.date_from.isoformat(),
            "date_to": self.date_to and self.date_to.isoformat(),
            "agent": self.agent,
            "team": self.team_id and str(self.team_id),
            "reference": self.reference,
            "currency": self.currency,
            "amount_min": plain_amount(self.amount_min, self.currency),
            "amount_max": plain_amount(self.amount_max, self.currency),
            "card_last4": self.card_last4,
        }
        return {name: value for name, value in params.items() if value}

    def is_empty(self) -> bool:
        return not self.query_params()

    def audit_details(self, fingerprint: Callable[[str], str]) -> dict:
        """The filter for the audit trail. Ids, codes and dates as they are; the reference
        (a customer's account number, perhaps) only as a keyed ``fingerprint``, so the audit
        row, which outlives the data, holds nothing personal yet can still be matched."""
        details = {
            name: value
            for name, value in self.query_params().items()
            if name not in ("reference", "agent", "team")
        }
        if self.agent_id is not None:
            details["agent_id"] = self.agent_id
        if self.team_id is not None:
            details["team_id"] = self.team_id
        if self.reference:
            details["reference_fingerprint"] = fingerprint(self.reference.lower())
        return details
