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


def test_every_cell_is_quoted_so_a_semicolon_cannot_split_one():
    """In locales whose list separator is ``;``, an unquoted ``a;=1+1`` would become two cells,
    the second a formula. Every cell is quoted (empty ones as ``""``), formula triggers still
    neutralised."""
    import csv
    import io
    import re

    from portal.reporting.export_format import HEADER_LINE, csv_chunks

    rows = [row(reference="a;=1+1", team=None), row(reference='x,"y"\nz', agent="=cmd")]
    text = "".join(csv_chunks(rows, [0], NOW))
    lines = text[len(HEADER_LINE) :].split("\r\n")
    assert lines[0].startswith('"2026-03-01T11:00:00Z","AAAAAAAAAA",')
    assert '"a;=1+1"' in lines[0] and ',"",' in lines[0]
    # Every cell of the line is one quoted string: no ``;`` or ``,`` stands outside quotes.
    assert re.fullmatch(r'"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*', lines[0]), lines[0]
    again = list(csv.reader(io.StringIO(text[len(HEADER_LINE) :])))
    assert again[0][HEADER.index("reference")] == "a;=1+1"
    assert again[1][HEADER.index("reference")] == 'x,"y"\nz'
    assert again[1][HEADER.index("agent")] == "'=cmd"
