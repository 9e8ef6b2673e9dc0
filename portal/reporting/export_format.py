"""What a row of the CSV export looks like, and the portable writer (SQLite, and any database
without ``export_copy``'s COPY).

The cells are what the transactions list shows (``queries.describe``), as text a spreadsheet
reads as intended: UTC timestamps, plain amounts, cards as brand and last four digits. Cells a
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
from portal.money import plain_amount
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
)
#: The first line of every export: a BOM, so spreadsheets read the file as UTF-8, then the
#: column names (plain words: nothing to quote).
HEADER_LINE = "\ufeff" + ",".join(HEADER) + "\r\n"
#: Every cell in double quotes, empty ones too (``""``), so no separator of any locale (``,`` or
#: ``;``), quote or line break inside a cell can split it. ``export_copy`` writes the same.
QUOTING = csv.QUOTE_ALL
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


def csv_cells(row, now: datetime) -> list[str]:
    """One row of ``queries.ROW_COLUMNS`` (a result row: its columns by position and by name)
    as cells, every one neutralised. Written for speed (it runs once per exported row) but
    shows what ``queries.describe`` shows in the list."""
    (
        _,
        public_id,
        created_at,
        kind,
        _,  # the status and the expiry: ``effective_status`` reads them from ``row``
        _,
        amount_minor,
        currency,
        reference,
        agent,
        team,
        payment_status,
        card_brand,
        card_last4,
        paid_at,
    ) = row
    cells = (
        _utc(created_at),
        public_id,
        kind,
        effective_status(row, now).value,
        agent,
        team,
        reference,
        plain_amount(amount_minor, currency),
        currency,
        payment_status,
        queries.card_label(card_brand, card_last4),
        _utc(paid_at),
    )
    return [("'" + cell if cell[0] in FORMULA_TRIGGERS else cell) if cell else "" for cell in cells]


def csv_chunks(rows: Iterable, counter: list[int], now: datetime) -> Iterator[str]:
    """CSV text, ``CHUNK_ROWS`` rows per chunk, header first (with a BOM so spreadsheets
    read UTF-8). ``counter[0]`` counts the data rows written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=QUOTING)
    buffer.write(HEADER_LINE)
    pending = 0
    for row in rows:
        writer.writerow(csv_cells(row, now))
        counter[0] += 1
        pending += 1
        if pending == CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
