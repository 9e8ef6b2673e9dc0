"""CSV export of the transactions list: the same filters, every matching row, streamed.

The export holds exactly what the list shows (no captured value, cards as brand and last four
digits) and is written as it is read: rows come from a server-side cursor a batch at a time
and leave as CSV chunks, so memory stays flat at a million rows. Cells a spreadsheet would run
as a formula are neutralised (OWASP "CSV injection"). Every export is audited BEFORE the first
byte leaves, in its own committed transaction (a streamed response cannot take it back), with
the filter used; a second row records how many rows were sent, or that the download stopped.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from flask import Response, current_app, g, request, stream_with_context

from portal import audit
from portal.backoffice import keyset, queries
from portal.backoffice.transactions import parse_filter, render_list
from portal.backoffice.views import bp
from portal.capture.states import EXPIRABLE
from portal.extensions import db
from portal.models.types import utcnow
from portal.security.authz import Permission
from portal.security.guards import requires

log = logging.getLogger("postern.backoffice.exports")
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
    """One row (``queries.ROW_COLUMNS``) as cells, every one neutralised. Written for speed
    (it runs once per exported row) but shows what ``queries.describe`` shows in the list."""
    (
        _,
        public_id,
        created_at,
        kind,
        status,
        expires_at,
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
    if status in EXPIRABLE and expires_at <= now:
        status = "expired"
    cells = (
        _utc(created_at),
        public_id,
        kind,
        status,
        agent,
        team,
        reference,
        queries.plain_amount(amount_minor, currency),
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
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(HEADER)
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


def reference_fingerprint(value: str) -> str:
    """A keyed hash of a searched reference, for the audit row: matchable, not readable."""
    key = current_app.config["AUDIT_CHAIN_KEY"].encode() + b"|export-filter"
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def _finish(action_outcome: str, rows: int, export_seq: int, actor: audit.service.Actor) -> None:
    """Record how the download ended, in a transaction of its own."""
    try:
        db.session.rollback()  # end the streaming read (and its server-side cursor)
        audit.record(
            "export.transactions_finished",
            outcome=action_outcome,
            target_type="export",
            target_id=export_seq,
            details={"rows": rows},
            actor=actor,
        )
        db.session.commit()
    except Exception:  # the download is over: log, never hide it behind an error page
        db.session.rollback()
        log.exception("could not record the end of an export", extra={"export": export_seq})


@bp.get("/transactions/export.csv")
@requires(Permission.EXPORT)
def export_transactions():
    parsed = parse_filter(request.args)
    if not parsed.ok:
        return render_list(parsed, None, keyset.DEFAULT_PAGE_SIZE, status=400)
    user, flt, now = g.staff_user, parsed.filter, utcnow()
    started = audit.record(
        "export.transactions",
        target_type="export",
        details={
            "filter": flt.audit_details(reference_fingerprint),
            "scope": "all" if queries.sees_everything(user) else "team",
        },
    )
    # Everything the stream needs is taken now: the request's session (and ``user`` with it)
    # is closed once this view returns, while the rows are still flowing.
    actor = audit.service.Actor(user.username, user.id, user.role)
    query = queries.export_query(user, flt, now)
    export_seq = started.seq
    db.session.commit()

    def generate() -> Iterator[str]:
        counter = [0]
        finished = False
        try:
            yield from csv_chunks(queries.stream(query), counter, now)
            finished = True
        finally:
            _finish("success" if finished else "incomplete", counter[0], export_seq, actor)

    stamp = now.strftime("%Y%m%d-%H%M%S")
    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="transactions-{stamp}.csv"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
