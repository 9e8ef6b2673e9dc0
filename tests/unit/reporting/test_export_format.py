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
        "payment_amount": 1250,
        "failed_attempts": 0,
        "failure_code": None,
        "decline_code": None,
        "refunded_minor": 0,
        "pending_refund_minor": 0,
        "dispute_status": None,
        "dispute_amount_minor": 0,
        "dispute_reason": None,
        "dispute_evidence_due_by": None,
        **overrides,
    }
    return namedtuple("Row", values)(**values)


def test_a_row_becomes_neutralised_cells_in_header_order():
    cells = csv_cells(row(), NOW, 3)
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
        "payment_status": "Paid",
        "card": "Visa •••• 4242",
        "paid_at_utc": "2026-03-01T12:00:00Z",
        "refunded": "0.00",
        "net": "12.50",
        "dispute_status": "",
        "dispute_reason": "",
        "dispute_amount": "",
        "dispute_evidence_due_utc": "",
    }


@pytest.mark.parametrize(
    ("overrides", "words", "refunded", "net", "dispute"),
    [
        ({"refunded_minor": 1250}, "Refunded", "12.50", "0.00", ""),
        ({"refunded_minor": 250}, "Partially refunded", "2.50", "10.00", ""),
        ({"pending_refund_minor": 1250}, "Refund pending", "0.00", "12.50", ""),
        (
            {"dispute_status": "needs_response", "dispute_amount_minor": 1250},
            "Disputed",
            "0.00",
            "0.00",
            "Disputed: evidence is needed",
        ),
        (
            {"dispute_status": "won", "dispute_amount_minor": 1250, "dispute_reason": "fraudulent"},
            "Dispute won",
            "0.00",
            "12.50",
            "Dispute won: the money stays with us",
        ),
        (
            {"payment_status": "requires_payment_method", "decline_code": "insufficient_funds"},
            "Declined",
            "",
            "",
            "",
        ),
        ({"payment_status": None, "card_last4": None, "paid_at": None}, "", "", "", ""),
    ],
)
def test_the_payment_reads_in_words_with_refunds_net_and_dispute(
    overrides, words, refunded, net, dispute
):
    cells = dict(zip(HEADER, csv_cells(row(**overrides), NOW, 3), strict=True))
    assert cells["payment_status"] == words
    assert (cells["refunded"], cells["net"], cells["dispute_status"]) == (refunded, net, dispute)


def test_a_dispute_is_exported_with_its_reason_amount_and_evidence_deadline():
    due = NOW + timedelta(days=7)
    disputed = row(
        dispute_status="needs_response",
        dispute_amount_minor=1000,
        dispute_reason="product_not_received",
        dispute_evidence_due_by=due,
    )
    cells = dict(zip(HEADER, csv_cells(disputed, NOW, 3), strict=True))
    assert (
        cells["dispute_reason"],
        cells["dispute_amount"],
        cells["dispute_evidence_due_utc"],
    ) == (
        "The cardholder says they did not receive what they paid for",
        "10.00",
        "2026-03-08T12:00:00Z",
    )
    newer = row(dispute_status="needs_response", dispute_reason="some_new_reason")
    cells = dict(zip(HEADER, csv_cells(newer, NOW, 3), strict=True))
    assert cells["dispute_reason"] == "some_new_reason"  # as export_copy writes it too
    unknown = row(dispute_status="prevented", dispute_amount_minor=1250)
    cells = dict(zip(HEADER, csv_cells(unknown, NOW, 3), strict=True))
    assert cells["dispute_status"] == "prevented"  # a status Stripe adds later: its code


def test_a_lapsed_link_is_exported_as_expired_like_the_list_shows_it():
    cells = csv_cells(row(expires_at=NOW - timedelta(seconds=1)), NOW, 3)
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
    text = "".join(csv_chunks(rows, [0], NOW, 3))
    lines = text[len(HEADER_LINE) :].split("\r\n")
    assert lines[0].startswith('"2026-03-01T11:00:00Z","AAAAAAAAAA",')
    assert '"a;=1+1"' in lines[0] and ',"",' in lines[0]
    # Every cell of the line is one quoted string: no ``;`` or ``,`` stands outside quotes.
    assert re.fullmatch(r'"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*', lines[0]), lines[0]
    again = list(csv.reader(io.StringIO(text[len(HEADER_LINE) :])))
    assert again[0][HEADER.index("reference")] == "a;=1+1"
    assert again[1][HEADER.index("reference")] == 'x,"y"\nz'
    assert again[1][HEADER.index("agent")] == "'=cmd"
