"""CSV cells: formula neutralisation (OWASP CSV injection) and what a row becomes."""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime, timedelta

import pytest

from portal.reporting.export_format import HEADER, csv_cells, neutralise

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx", "\uff1d1+1", "\uff20x"],
)
def test_formula_triggers_get_a_leading_quote(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["ACC-1", "12.50", "a=b", "", "'quoted", "Visa •••• 4242"])
def test_everything_else_is_left_alone(text):
    assert neutralise(text) == text


def test_none_is_an_empty_cell():
    assert neutralise(None) == ""


def row(**overrides):
    """A result row of ``queries.ROW_COLUMNS``: its columns by position and by name."""
    values = {
        "id": 1,
        "public_id": "AAAAAAAAAA",
        "created_at": NOW - timedelta(hours=1),
        "kind": "payment",
        "status": "sent",
        "expires_at": NOW + timedelta(hours=1),
        "amount_minor": 1250,
        "currency": "GBP",
        "reference": "=cmd",
        "agent": "nora",
        "team": None,
        "payment_status": "succeeded",
        "card_brand": "visa",
        "card_last4": "4242",
        "paid_at": NOW,
        **overrides,
    }
    return namedtuple("Row", values)(**values)


def test_a_row_becomes_neutralised_cells_in_header_order():
    cells = csv_cells(row(), NOW)
    assert dict(zip(HEADER, cells, strict=True)) == {
        "created_at_utc": "2026-03-01T11:00:00Z",
        "request_id": "AAAAAAAAAA",
        "type": "payment",
        "status": "sent",
        "agent": "nora",
        "team": "",
        "reference": "'=cmd",
        "amount": "12.50",
        "currency": "GBP",
        "payment_status": "succeeded",
        "card": "Visa •••• 4242",
        "paid_at_utc": "2026-03-01T12:00:00Z",
    }


def test_a_lapsed_link_is_exported_as_expired_like_the_list_shows_it():
    cells = csv_cells(row(expires_at=NOW - timedelta(seconds=1)), NOW)
    assert cells[HEADER.index("status")] == "expired"
