"""What a row of the CSV export looks like, and the portable writer (SQLite, and any database
without ``export_copy``'s COPY).

The cells are what the transactions list shows (``queries.describe``), as text a spreadsheet
reads as intended: UTC timestamps, plain amounts, cards as brand and last four digits, the
payment in Postern's words (``portal.payments.standing``: "Paid", "Refunded", "Disputed"),
and, once money was taken, the amount refunded, the net kept and the dispute's status. Cells a
spreadsheet would run as a formula are neutralised (OWASP "CSV injection"), and every cell is
quoted (``QUOTING``): spreadsheets in locales whose list separator is ``;`` split an unquoted
cell at a ``;`` (``a;=1+1`` would become a second cell holding a formula), and csv's minimal
quoting does not treat ``;`` as special.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from portal.capture.states import effective_status
from portal.disputes.wording import REASON_WORDS, STATUS_WORDS
from portal.money import plain_amount
from portal.payments.attempt_limit import max_attempts
from portal.payments.standing import LABELS, MONEY_TAKEN, money_of, state_of
from portal.reporting import queries

HEADER = (
    "created_at_utc",
    "request_id",
    "type",
    "status",
    "agent",
    "team",
    "reference",
    "amount",
    "currency",
    "payment_status",
    "card",
    "paid_at_utc",
    "refunded",
    "net",
    "dispute_status",
    "dispute_reason",
    "dispute_amount",
    "dispute_evidence_due_utc",
)
#: The first line of every export: a BOM, so spreadsheets read the file as UTF-8, then the
#: column names (plain words: nothing to quote).
HEADER_LINE = "\ufeff" + ",".join(HEADER) + "\r\n"
#: Every cell in double quotes, empty ones too (``""``), so no separator of any locale (``,`` or
#: ``;``), quote or line break inside a cell can split it. ``export_copy`` writes the same.
QUOTING = csv.QUOTE_ALL
#: Stripe's dispute status -> the words the export writes (``portal.disputes.wording``);
#: plain strings, as ``export_copy`` binds them in SQL.
DISPUTE_WORDS = {str(status): words for status, words in STATUS_WORDS.items()}
#: Rows per chunk handed to the server: big enough to be cheap, small enough to stay flat.
CHUNK_ROWS = 500
#: A cell starting with one of these is run as a formula by Excel, LibreOffice or Sheets
#: (the full-width forms too, which some of them fold to ASCII).
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def neutralise(value: object) -> str:
    """A cell that no spreadsheet will evaluate: text starting with a formula trigger gets a
    leading single quote (OWASP's advice); everything else is unchanged."""
    text = "" if value is None else str(value)
    return "'" + text if text and text[0] in FORMULA_TRIGGERS else text


def _utc(value) -> str:
    # Values come from UTCDateTime columns: already aware UTC.
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else ""


def payment_cells(row, limit: int) -> tuple[str | None, ...]:
    """(payment words, refunded, net, dispute status, dispute reason, dispute amount, evidence
    due) for the row's payment: all empty without a payment; the money and the dispute empty
    until money was taken, the dispute's also without one. A reason Stripe adds later reads as
    its code (``export_copy`` cannot reword what it does not know either)."""
    facts = queries.payment_facts(row, limit)
    if facts is None:
        return (None,) * 7
    state = state_of(facts)
    if state not in MONEY_TAKEN:
        return (LABELS[state],) + (None,) * 6
    money = money_of(facts, state)
    currency = facts.currency
    disputed = facts.dispute_status is not None
    return (
        LABELS[state],
        plain_amount(money.refunded, currency),
        plain_amount(money.net, currency),
        DISPUTE_WORDS.get(facts.dispute_status, facts.dispute_status) if disputed else None,
        REASON_WORDS.get(row.dispute_reason, row.dispute_reason) if disputed else None,
        plain_amount(facts.dispute_amount_minor, currency) if disputed else None,
        _utc(row.dispute_evidence_due_by) if disputed else None,
    )


def csv_cells(row, now: datetime, limit: int) -> list[str]:
    """One row of ``queries.ROW_COLUMNS`` (a result row: its columns by position and by name)
    as cells, every one neutralised. Written for speed (it runs once per exported row) but
    shows what ``queries.describe`` shows in the list. ``limit``: the attempt limit."""
    words, refunded, net, *dispute = payment_cells(row, limit)
    cells = (
        _utc(row.created_at),
        row.public_id,
        row.kind,
        effective_status(row, now).value,
        row.agent,
        row.team,
        row.reference,
        plain_amount(row.amount_minor, row.currency),
        row.currency,
        words,
        queries.card_label(row.card_brand, row.card_last4),
        _utc(row.paid_at),
        refunded,
        net,
        *dispute,
    )
    return [("'" + cell if cell[0] in FORMULA_TRIGGERS else cell) if cell else "" for cell in cells]


def csv_chunks(
    rows: Iterable, counter: list[int], now: datetime, limit: int | None = None
) -> Iterator[str]:
    """CSV text, ``CHUNK_ROWS`` rows per chunk, header first (with a BOM so spreadsheets
    read UTF-8). ``counter[0]`` counts the data rows written. ``limit``: the attempt limit
    (the app's ``PAYMENT_MAX_ATTEMPTS`` if not given)."""
    limit = max_attempts() if limit is None else limit
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=QUOTING)
    buffer.write(HEADER_LINE)
    pending = 0
    for row in rows:
        writer.writerow(csv_cells(row, now, limit))
        counter[0] += 1
        pending += 1
        if pending == CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
