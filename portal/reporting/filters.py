"""Reading the back office's search filters from what staff typed: strict, HTTP-free.

``parse_transaction_filter`` takes plain strings (a query string or a form, as a mapping) and
returns either a ``TransactionFilter`` or, per field, a message that names the field and says
how to put it right. Anything that looks like a card number is refused and never echoed back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from portal.capture import kinds
from portal.capture.money import CURRENCY_EXPONENTS
from portal.capture.states import Status
from portal.security.pan import contains_pan

CARD_NUMBER_REFUSED = (
    "This looks like a card number. Card numbers are never stored or searched; "
    "search by the card's last 4 digits instead."
)
LABELS = {
    "status": "Status",
    "kind": "Type",
    "date_from": "Created from",
    "date_to": "Created to",
    "agent": "Agent username",
    "team": "Team",
    "reference": "Reference",
    "currency": "Currency",
    "amount_min": "Amount from",
    "amount_max": "Amount to",
    "card_last4": "Card last 4 digits",
}
_LAST4 = re.compile(r"^\d{4}$", re.ASCII)
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$", re.ASCII)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", re.ASCII)
_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$", re.ASCII)
MAX_TEXT = 64
CONTROL_REFUSED = "use letters, digits, spaces and punctuation only."


def has_control_characters(text: str) -> bool:
    """NULs, control and invisible formatting characters (never in a real search term, and
    a NUL is refused by PostgreSQL outright)."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


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
            "amount_min": _minor_to_text(self.amount_min, self.currency),
            "amount_max": _minor_to_text(self.amount_max, self.currency),
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


@dataclass(frozen=True)
class FilterContext:
    """What parsing needs to know about the world, passed in so parsing stays pure."""

    timezone: str
    currencies: tuple[str, ...]
    #: team id -> name, for the teams this user may filter on (empty: no team filter).
    teams: Mapping[int, str]
    #: username -> staff id, or None if nobody has that username.
    find_agent: Callable[[str], int | None]


@dataclass
class ParsedFilter:
    filter: TransactionFilter
    #: field name -> message naming the field. Empty when every field was acceptable.
    errors: dict[str, str]
    #: What to show back in the form (card-number-looking input blanked).
    values: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def _minor_to_text(amount: int | None, currency: str | None) -> str | None:
    if amount is None or currency is None:
        return None
    places = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{Decimal(amount).scaleb(-places):.{places}f}"


def parse_date(text: str) -> date:
    """``2026-03-31`` or ``31/03/2026``. Raises ValueError."""
    match = _ISO_DATE.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
    else:
        match = _UK_DATE.match(text)
        if not match:
            raise ValueError("not a date")
        day, month, year = (int(part) for part in match.groups())
    if not 2000 <= year <= 2100:
        raise ValueError("year out of range")
    return date(year, month, day)


def parse_amount(text: str, currency: str) -> int:
    """``1,234.50`` -> 123450 (minor units of ``currency``). Zero is allowed (a lower bound).
    Raises ValueError with a message for the field."""
    places = CURRENCY_EXPONENTS[currency]
    value = text.replace(" ", "").lstrip("£€$¥")
    match = _AMOUNT.match(value)
    if not match:
        raise ValueError("enter an amount in numbers only, like 125.50.")
    if len(match.group(1) or "") > places:
        raise ValueError(f"use at most {places} decimal places for {currency}.")
    minor = int(Decimal(value.replace(",", "")).scaleb(places))
    if minor > 10**15:
        raise ValueError("that amount is too large.")
    return minor


class _Reader:
    """Collects values and per-field errors while parsing one mapping."""

    def __init__(self, raw: Mapping[str, str]):
        self.raw = raw
        self.errors: dict[str, str] = {}
        self.values: dict[str, str] = {}

    def text(self, name: str) -> str:
        value = " ".join(str(self.raw.get(name) or "").split())
        if contains_pan(value):
            self.errors[name] = f"{LABELS[name]}: {CARD_NUMBER_REFUSED}"
            return ""
        if has_control_characters(value):
            self.fail(name, CONTROL_REFUSED)
            return ""
        self.values[name] = value
        if len(value) > MAX_TEXT:
            self.fail(name, f"use at most {MAX_TEXT} characters.")
            return ""
        return value

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, f"{LABELS[name]}: {message}")


def parse_transaction_filter(raw: Mapping[str, str], context: FilterContext) -> ParsedFilter:
    """Validate every filter field; see the module docstring."""
    read = _Reader(raw)
    values: dict = {"timezone": context.timezone}

    status = read.text("status")
    if status:
        if status in Status._value2member_map_:
            values["status"] = status
        else:
            read.fail("status", "choose one of the statuses in the list.")
    kind = read.text("kind")
    if kind:
        if kind in kinds.KINDS:
            values["kind"] = kind
        else:
            read.fail("kind", "choose one of the types in the list.")

    for name in ("date_from", "date_to"):
        text = read.text(name)
        if text:
            try:
                values[name] = parse_date(text)
            except ValueError:
                read.fail(name, "enter a real date, like 2026-03-31.")
    if (
        values.get("date_from")
        and values.get("date_to")
        and values["date_to"] < values["date_from"]
    ):
        read.fail("date_to", "must be the same as or after Created from.")

    agent = read.text("agent")
    if agent:
        if not _USERNAME.match(agent):
            read.fail("agent", "enter a staff username (letters, digits, . _ @ + -).")
        else:
            agent_id = context.find_agent(agent.lower())
            if agent_id is None:
                read.fail("agent", f"no staff member has the username {agent}.")
            values.update(agent=agent.lower(), agent_id=agent_id)

    team = read.text("team")
    if team:
        if team.isascii() and team.isdigit() and int(team) in context.teams:
            values["team_id"] = int(team)
        else:
            read.fail("team", "choose one of the teams in the list.")

    reference = read.text("reference")
    if reference:
        values["reference"] = reference

    currency = read.text("currency").upper()
    if currency and currency not in context.currencies:
        read.fail("currency", "choose one of the currencies in the list.")
        currency = ""
    for name in ("amount_min", "amount_max"):
        text = read.text(name)
        if not text:
            continue
        currency = currency or context.currencies[0]
        try:
            values[name] = parse_amount(text, currency)
        except ValueError as problem:
            read.fail(name, str(problem))
    if currency:
        values["currency"] = currency
    low, high = values.get("amount_min"), values.get("amount_max")
    if low is not None and high is not None and high < low:
        read.fail("amount_max", "must be the same as or more than Amount from.")

    last4 = read.text("card_last4")
    if last4:
        if _LAST4.match(last4):
            values["card_last4"] = last4
        else:
            read.fail("card_last4", "enter exactly 4 digits, like 4242.")

    known = {f.name for f in fields(TransactionFilter)}
    flt = TransactionFilter(**{k: v for k, v in values.items() if k in known})
    return ParsedFilter(flt, read.errors, read.values)
