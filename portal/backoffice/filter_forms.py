"""The back office's search forms: the transactions list's filters and the audit log's.

Plain WTForms forms over ``request.args`` (or the search POST's form), without a CSRF token of
their own: a search changes nothing, and the POST that redirects to a clean GET URL is covered
by the app-wide CSRF check. Every field is a search box (``search_field``): spaces squashed; text
that looks like a card number refused and forgotten, so it is never echoed back nor put in a URL;
control characters and overlong text refused; an empty box means "not filtered on". Each
message names its field ("Amount from: ..."), as the pages' error summaries show them.

``search()`` returns a ``ParsedSearch``: the HTTP-free filter that ``portal.reporting`` queries
take (``TransactionFilter``, ``AuditFilter``), the messages, and what to show back in the form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField
from wtforms.validators import AnyOf, Length, Regexp, StopValidation, ValidationError

from portal import money
from portal.capture import kinds
from portal.capture.states import Status
from portal.i18n import gettext, lazy_gettext
from portal.reporting.audit_queries import AuditFilter
from portal.reporting.filters import TransactionFilter
from portal.reporting.payment_columns import PAYMENT_FILTERS
from portal.security.validators import NoCardNumbers, NoControlCharacters

CARD_NUMBER_REFUSED = lazy_gettext(
    "This looks like a card number. Card numbers are never stored or searched; "
    "search by the card's last 4 digits instead."
)
CONTROL_REFUSED = lazy_gettext("use letters, digits, spaces and punctuation only.")
MAX_TEXT = 64
DATE_REFUSED = lazy_gettext("enter a real date, like 2026-03-31.")
#: Far beyond any real amount; keeps a typed bound inside a database integer.
MAX_AMOUNT_MINOR = 10**15
#: The filters' own words for an amount refused (``money.AmountError.problem``).
AMOUNT_REFUSED = {
    money.AmountProblem.NOT_A_NUMBER: lazy_gettext("enter an amount in numbers only, like 125.50."),
    money.AmountProblem.TOO_MANY_PLACES: lazy_gettext(
        "use at most {places} decimal places for {currency}."
    ),
    money.AmountProblem.TOO_LARGE: lazy_gettext("that amount is too large."),
}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", re.ASCII)
_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$", re.ASCII)
_LAST4 = re.compile(r"^\d{4}$", re.ASCII)
_ACTION = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*(?:\.\*)?$", re.ASCII)
_TARGET_TYPE = re.compile(r"^[a-z_]{1,40}$", re.ASCII)

SearchFilter = TypeVar("SearchFilter")


def parse_date(text: str) -> date:
    """``2026-03-31`` or ``31/03/2026``, a year from 2000 to 2100. Raises ValueError."""
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


@dataclass
class ParsedSearch(Generic[SearchFilter]):
    filter: SearchFilter
    #: field name -> message naming the field. Empty when every field was acceptable.
    errors: dict[str, str]
    #: What to show back in the form (anything refused as a card number or control
    #: characters left out).
    values: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def _squash_spaces(text: str | None) -> str:
    return " ".join(str(text or "").split())


def _final(validator: Callable) -> Callable:
    """``validator``, its refusal ending the field's checks: one message per field, and no
    lookup runs on text already refused."""

    def check(form: Form, field: StringField) -> None:
        try:
            validator(form, field)
        except ValidationError as problem:
            raise StopValidation(str(problem)) from None

    return check


def _only_if_typed(form: Form, field: StringField) -> None:
    if not field.data:
        raise StopValidation()  # not filtered on: nothing more to check


def _kept(form: SearchForm, field: StringField) -> None:
    form.found[field.name] = field.data


def _read_date(form: SearchForm, field: StringField) -> None:
    try:
        form.found[field.name] = parse_date(field.data)
    except ValueError:
        raise StopValidation(DATE_REFUSED) from None


def search_field(label: str, *checks: Callable) -> StringField:
    """A search box (see the module docstring); ``checks`` run, in order, on text typed and
    past the common refusals, and record what it means in ``form.found``."""
    common = (
        NoCardNumbers(CARD_NUMBER_REFUSED),
        NoControlCharacters(CONTROL_REFUSED),
        Length(
            max=MAX_TEXT, message=lazy_gettext("use at most %(count)s characters.", count=MAX_TEXT)
        ),
    )
    return StringField(
        label,
        default="",
        filters=[_squash_spaces],
        validators=[*map(_final, common), _only_if_typed, *map(_final, checks)],
    )


class SearchForm(Form):
    """What the two searches share: ``found`` (field name -> what the text means, for each
    field accepted), a date range that must not run backwards, and the outcome's shape."""

    date_from: StringField
    date_to: StringField

    def __init__(self, formdata: Mapping[str, str]):
        self.found: dict[str, Any] = {}
        super().__init__(MultiDict(formdata))

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        self.check_ranges()
        return not any(field.errors for field in self)

    def check_ranges(self) -> None:
        """Bounds typed and accepted on their own that together select nothing."""
        found = self.found
        if "date_from" in found and "date_to" in found and found["date_to"] < found["date_from"]:
            self.date_to.errors.append(
                gettext("must be the same as or after %(field)s.", field=self.date_from.label.text)
            )

    def _outcome(self, search: SearchFilter) -> ParsedSearch[SearchFilter]:
        return ParsedSearch(
            search,
            errors={f.name: f"{f.label.text}: {f.errors[0]}" for f in self if f.errors},
            values={f.name: f.data for f in self if f.data},
        )


@dataclass(frozen=True)
class FilterContext:
    """What reading the transactions filters needs to know about the world."""

    timezone: str
    currencies: tuple[str, ...]
    #: team id -> name, for the teams this user may filter on (empty: no team filter).
    teams: Mapping[int, str]
    #: username -> staff id, or None if nobody has that username.
    find_agent: Callable[[str], int | None]


class TransactionSearchForm(SearchForm):
    status = search_field(
        lazy_gettext("Status"),
        AnyOf(
            [s.value for s in Status] + list(PAYMENT_FILTERS),
            "choose one of the statuses in the list.",
        ),
        _kept,
    )
    kind = search_field(
        lazy_gettext("Type"),
        AnyOf(kinds.KINDS, lazy_gettext("choose one of the types in the list.")),
        _kept,
    )
    date_from = search_field(lazy_gettext("Created from"), _read_date)
    date_to = search_field(lazy_gettext("Created to"), _read_date)
    agent = search_field(
        lazy_gettext("Agent username"),
        Regexp(
            _USERNAME, message=lazy_gettext("enter a staff username (letters, digits, . _ @ + -).")
        ),
    )
    team = search_field(lazy_gettext("Team"))
    reference = search_field(lazy_gettext("Reference"), _kept)
    currency = search_field(lazy_gettext("Currency"))
    amount_min = search_field(lazy_gettext("Amount from"))
    amount_max = search_field(lazy_gettext("Amount to"))
    card_last4 = search_field(
        lazy_gettext("Card last 4 digits"),
        Regexp(_LAST4, message=lazy_gettext("enter exactly 4 digits, like 4242.")),
        _kept,
    )

    def __init__(self, formdata: Mapping[str, str], context: FilterContext):
        self.context = context
        super().__init__(formdata)

    def validate_agent(self, field: StringField) -> None:
        username = field.data.lower()
        agent_id = self.context.find_agent(username)
        if agent_id is None:
            raise StopValidation(
                gettext("no staff member has the username %(username)s.", username=field.data)
            )
        self.found.update(agent=username, agent_id=agent_id)

    def validate_team(self, field: StringField) -> None:
        text = field.data
        if not (text.isascii() and text.isdigit() and int(text) in self.context.teams):
            raise StopValidation(gettext("choose one of the teams in the list."))
        self.found["team_id"] = int(text)

    def validate_currency(self, field: StringField) -> None:
        if field.data.upper() not in self.context.currencies:
            raise StopValidation(gettext("choose one of the currencies in the list."))
        self.found["currency"] = field.data.upper()

    def _amount_currency(self) -> str:
        """The currency the amounts are in: the one chosen, else the first one offered."""
        chosen = (self.currency.data or "").upper()
        return chosen if chosen in self.context.currencies else self.context.currencies[0]

    def _read_amount(self, field: StringField) -> None:
        currency = self._amount_currency()
        places = money.exponent(currency)
        try:
            amount = money.parse_amount(
                field.data, currency, max_major=MAX_AMOUNT_MINOR // 10**places, allow_zero=True
            )
        except money.AmountError as refused:
            words = AMOUNT_REFUSED[refused.problem]
            raise StopValidation(words.format(places=places, currency=currency)) from None
        self.found.update({field.name: amount, "currency": currency})

    validate_amount_min = validate_amount_max = _read_amount

    def check_ranges(self) -> None:
        super().check_ranges()
        low, high = self.found.get("amount_min"), self.found.get("amount_max")
        if low is not None and high is not None and high < low:
            self.amount_max.errors.append(gettext("must be the same as or more than Amount from."))

    def search(self) -> ParsedSearch[TransactionFilter]:
        """Validate every field; the filter holds what was accepted."""
        self.validate()
        return self._outcome(TransactionFilter(timezone=self.context.timezone, **self.found))


class AuditSearchForm(SearchForm):
    action = search_field(
        lazy_gettext("Action"),
        Regexp(
            _ACTION,
            message=lazy_gettext(
                "enter an action like payment.failed, or payment.* for all of them."
            ),
        ),
        _kept,
    )
    actor = search_field(
        lazy_gettext("Who"),
        Regexp(
            _USERNAME,
            message=lazy_gettext(
                "enter a staff username, or system, customer, cli or stripe-webhook."
            ),
        ),
    )
    target_type = search_field(
        lazy_gettext("Target type"),
        Regexp(
            _TARGET_TYPE, message=lazy_gettext("enter a type like capture_request or staff_user.")
        ),
        _kept,
    )
    target_id = search_field(lazy_gettext("Target id"), _kept)
    date_from = search_field(lazy_gettext("From"), _read_date)
    date_to = search_field(lazy_gettext("To"), _read_date)

    def __init__(
        self,
        formdata: Mapping[str, str],
        *,
        timezone: str,
        find_staff: Callable[[str], int | None],
    ):
        self.timezone = timezone
        self.find_staff = find_staff
        super().__init__(formdata)

    def validate_actor(self, field: StringField) -> None:
        """A staff username (matched by id) or another actor's label (``system``, ...)."""
        self.found.update(actor=field.data, actor_id=self.find_staff(field.data.lower()))

    def search(self) -> ParsedSearch[AuditFilter]:
        """Validate every field; the filter holds what was accepted."""
        self.validate()
        return self._outcome(AuditFilter(timezone=self.timezone, **self.found))
