"""The back office's search forms: every field validated, errors naming the field."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from portal.backoffice.filter_forms import (
    AuditSearchForm,
    FilterContext,
    TransactionSearchForm,
    parse_date,
)
from portal.reporting.audit_queries import AuditFilter
from portal.reporting.filters import TransactionFilter

AGENTS = {"nora": 7}
CONTEXT = FilterContext(
    timezone="Europe/London",
    currencies=("GBP", "JPY", "KWD"),
    teams={3: "North"},
    find_agent=AGENTS.get,
)


def parse(**raw):
    return TransactionSearchForm(raw, CONTEXT).search()


def test_an_empty_search_is_valid_and_filters_nothing():
    parsed = parse()
    assert parsed.ok and parsed.filter.is_empty()


def test_every_field_is_read_and_normalised():
    parsed = parse(
        status="succeeded",
        kind="payment",
        date_from="01/03/2026",
        date_to="2026-03-31",
        agent=" NORA ",
        team="3",
        reference="  ACC   77 ",
        amount_min="£1,000",
        amount_max="1250.5",
        card_last4="4242",
    )
    assert parsed.ok, parsed.errors
    flt = parsed.filter
    assert flt.status == "succeeded" and flt.kind == "payment"
    assert (flt.date_from, flt.date_to) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (flt.agent, flt.agent_id, flt.team_id) == ("nora", 7, 3)
    assert flt.reference == "ACC 77"
    assert (flt.currency, flt.amount_min, flt.amount_max) == ("GBP", 100_000, 125_050)
    assert flt.card_last4 == "4242"
    assert flt.query_params() == {
        "status": "succeeded",
        "kind": "payment",
        "date_from": "2026-03-01",
        "date_to": "2026-03-31",
        "agent": "nora",
        "team": "3",
        "reference": "ACC 77",
        "currency": "GBP",
        "amount_min": "1000.00",
        "amount_max": "1250.50",
        "card_last4": "4242",
    }
    # The params read back as the same filter (page links and the export link rely on it).
    assert parse(**flt.query_params()).filter == flt


def test_dates_are_whole_days_in_the_operators_zone():
    flt = parse(date_from="2026-07-01", date_to="2026-07-01").filter
    assert flt.created_from() == datetime.fromisoformat("2026-07-01T00:00:00+01:00")
    assert flt.created_before() == datetime.fromisoformat("2026-07-02T00:00:00+01:00")


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"status": "settled"}, "status", "Status: choose one"),
        ({"kind": "cash"}, "kind", "Type: choose one"),
        ({"date_from": "2026-02-30"}, "date_from", "Created from: enter a real date"),
        ({"date_to": "1999-01-01"}, "date_to", "Created to: enter a real date"),
        ({"date_from": "2026-01-02", "date_to": "2026-01-01"}, "date_to", "Created to: must be"),
        ({"agent": "no body"}, "agent", "Agent username: enter a staff username"),
        ({"agent": "ghost"}, "agent", "Agent username: no staff member has the username ghost"),
        ({"team": "4"}, "team", "Team: choose one"),
        ({"reference": "x" * 65}, "reference", "Reference: use at most 64 characters"),
        ({"reference": "a\x00b"}, "reference", "Reference: use letters, digits"),
        ({"reference": "\u202eevil"}, "reference", "Reference: use letters, digits"),
        ({"currency": "XXX"}, "currency", "Currency: choose one"),
        ({"amount_min": "-5"}, "amount_min", "Amount from: enter an amount in numbers only"),
        ({"amount_min": "1.5", "currency": "JPY"}, "amount_min", "at most 0 decimal"),
        ({"amount_max": "1.0001", "currency": "KWD"}, "amount_max", "at most 3 decimal places"),
        ({"amount_min": "9", "amount_max": "1"}, "amount_max", "Amount to: must be the same"),
        ({"card_last4": "12345"}, "card_last4", "Card last 4 digits: enter exactly 4 digits"),
        ({"card_last4": "\uff14\uff12\uff14\uff12"}, "card_last4", "enter exactly 4 digits"),
        ({"date_from": "\uff12\uff10\uff12\uff16-03-01"}, "date_from", "enter a real date"),
    ],
)
def test_each_bad_value_is_refused_by_name(raw, field, words):
    parsed = parse(**raw)
    assert not parsed.ok
    assert words in parsed.errors[field]


@pytest.mark.parametrize("field", ["reference", "agent", "card_last4", "amount_min", "date_from"])
def test_a_card_number_anywhere_is_refused_and_forgotten(field):
    parsed = parse(**{field: "4242-4242-4242-4242"})
    assert "This looks like a card number" in parsed.errors[field]
    assert field not in parsed.values  # never echoed back into the form
    assert parsed.filter == TransactionFilter(timezone="Europe/London")


def test_amounts_use_the_currencys_minor_unit():
    assert parse(amount_min="12", currency="JPY").filter.amount_min == 12
    assert parse(amount_min="1.234", currency="KWD").filter.amount_min == 1234
    assert parse(amount_min="0").filter.amount_min == 0  # a lower bound may be nothing
    assert "enter an amount in numbers only" in parse(amount_min="1e3").errors["amount_min"]


def test_dates_in_both_written_forms():
    assert parse_date("2026-03-31") == parse_date("31/03/2026") == date(2026, 3, 31)
    for bad in ("31-03-2026", "2026/03/31", "", "2026-3-1x"):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_the_audit_record_of_a_filter_holds_no_reference_in_clear():
    flt = parse(reference="ACC-77", agent="nora", team="3", card_last4="4242").filter
    details = flt.audit_details(lambda value: f"fp({value})")
    assert details == {
        "agent_id": 7,
        "team_id": 3,
        "card_last4": "4242",
        "reference_fingerprint": "fp(acc-77)",
    }


def test_amounts_only_in_the_searched_currency():
    """A foreign symbol is refused, not read as the searched currency: "€5" used to find £5."""
    assert parse(amount_min="£5").filter.amount_min == 500
    assert parse(amount_min="5 GBP").filter.amount_min == 500
    assert parse(amount_min="¥5", currency="JPY").filter.amount_min == 5
    for typed in ("€5", "$5", "££5"):
        assert parse(amount_min=typed).errors == {
            "amount_min": "Amount from: enter an amount in numbers only, like 125.50."
        }


def test_amount_bounds_up_to_the_largest_the_database_holds():
    assert parse(amount_max="10,000,000,000,000").filter.amount_max == 10**15
    assert parse(amount_max="1000000000000000", currency="JPY").filter.amount_max == 10**15
    assert parse(amount_max="10000000000000.01").errors == {
        "amount_max": "Amount to: that amount is too large."
    }


def test_what_is_shown_back_in_the_form():
    parsed = parse(reference="  a   b ", team="9", agent="x" * 70, kind="a\x00b")
    assert parsed.values == {"reference": "a b", "team": "9", "agent": "x" * 70}
    assert set(parsed.errors) == {"team", "agent", "kind"}


def audit(**raw):
    return AuditSearchForm(raw, timezone="Europe/London", find_staff=AGENTS.get).search()


def test_every_audit_field_is_read():
    parsed = audit(
        action="refund.*",
        actor=" Nora ",
        target_type="capture_request",
        target_id="R-1",
        date_from="01/03/2026",
        date_to="2026-03-31",
    )
    assert parsed.ok, parsed.errors
    assert parsed.filter == AuditFilter(
        action="refund.*",
        actor="Nora",
        actor_id=7,
        target_type="capture_request",
        target_id="R-1",
        date_from=date(2026, 3, 1),
        date_to=date(2026, 3, 31),
        timezone="Europe/London",
    )
    assert audit(actor="system").filter.actor_id is None  # not staff: matched by its label
    assert audit().ok and audit().filter == AuditFilter(timezone="Europe/London")


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"action": "Payment"}, "action", "Action: enter an action like payment.failed"),
        ({"actor": "no body"}, "actor", "Who: enter a staff username, or system"),
        ({"target_type": "Capture"}, "target_type", "Target type: enter a type like"),
        ({"target_id": "x" * 65}, "target_id", "Target id: use at most 64 characters."),
        ({"target_id": "a\u202eb"}, "target_id", "Target id: use letters, digits"),
        ({"date_from": "2026-13-01"}, "date_from", "From: enter a real date, like 2026-03-31."),
        ({"date_from": "2026-01-02", "date_to": "2026-01-01"}, "date_to", "To: must be the same"),
        ({"target_id": "4242 4242 4242 4242"}, "target_id", "Target id: This looks like a card"),
    ],
)
def test_each_bad_audit_value_is_refused_by_name(raw, field, message):
    parsed = audit(**raw)
    assert list(parsed.errors) == [field]
    assert parsed.errors[field].startswith(message)
