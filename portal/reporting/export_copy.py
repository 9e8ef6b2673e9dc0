"""The CSV export on PostgreSQL: the database writes the CSV itself (``COPY ... TO STDOUT``).

Building a million rows in Python (psycopg decoding each value, then ``csv.writer``) tops out
well below the 50,000 rows a second the export must keep up on a small machine. PostgreSQL's
COPY writes the same text in C and Postern only forwards the bytes, a 64 KiB chunk at a time,
so memory stays flat as before.

The file is the one ``export_format.csv_chunks`` writes on SQLite, byte for byte (a test
compares the two on the same rows): the same query (filters and scope included) with each
column turned into its cell: timestamps as ``YYYY-MM-DDTHH:MM:SSZ``, a lapsed link as
"expired", amounts with their currency's exponent, cards as brand and last four, the payment's
words and money from ``portal.payments.standing``'s SQL twin, every cell a
spreadsheet would run as a formula neutralised, every cell quoted (an empty one as ``""``: see
``export_format.QUOTING``), every row ending CRLF.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from psycopg import sql
from sqlalchemy import Numeric, String, and_, case, cast, func, literal
from sqlalchemy.engine import Compiled, Connection
from sqlalchemy.sql import ColumnElement, Select

from portal.capture.states import effective_status_sql
from portal.disputes.wording import REASON_WORDS
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment
from portal.models.staff import StaffUser, Team
from portal.money import CURRENCY_EXPONENTS
from portal.payments.attempt_limit import max_attempts as configured_max_attempts
from portal.payments.standing import LABELS, MONEY_TAKEN
from portal.reporting import payment_columns
from portal.reporting.export_format import DISPUTE_WORDS, FORMULA_TRIGGERS, HEADER_LINE

#: Bytes gathered before a chunk is handed to the server.
CHUNK_BYTES = 64 * 1024
#: FORCE_QUOTE *: every cell quoted, as ``export_format.QUOTING``; no cell is NULL (``_cell``),
#: since COPY writes NULL unquoted.
_COPY = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, FORCE_QUOTE *, ENCODING 'UTF8')")
_UTC_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'


def _text(value: ColumnElement) -> ColumnElement:
    return cast(value, String)


def _utc(moment: ColumnElement) -> ColumnElement:
    return func.to_char(func.timezone("UTC", moment), _UTC_FORMAT, type_=String)


def _plain_amount(minor: ColumnElement = CaptureRequest.amount_minor) -> ColumnElement:
    """``money.plain_amount``: 1250 GBP -> 12.50, 1250 JPY -> 1250, 1250 KWD -> 1.250."""
    unusual = {code: places for code, places in CURRENCY_EXPONENTS.items() if places != 2}
    places = case(unusual, value=CaptureRequest.currency, else_=2)
    scaled = cast(minor, Numeric) / func.power(cast(10, Numeric), places)
    known = and_(minor.is_not(None), func.coalesce(CaptureRequest.currency, "") != "")
    return case((known, _text(func.round(scaled, places))), else_=None)


def _payment_cells(max_attempts: int) -> tuple[ColumnElement, ...]:
    """``export_format.payment_cells`` in SQL: the payment's words, then (once money was
    taken) the amount refunded, the net kept and the dispute's status in words."""
    state = payment_columns.state(max_attempts)
    taken = and_(Payment.id.is_not(None), state.in_(sorted(s.value for s in MONEY_TAKEN)))
    words = case(
        (Payment.id.is_(None), None),
        else_=case({s.value: label for s, label in LABELS.items()}, value=state),
    )
    dispute = payment_columns.dispute
    dispute_words = case(DISPUTE_WORDS, value=dispute.status, else_=dispute.status)
    disputed = and_(taken, dispute.status.is_not(None))
    return (
        words,
        case((taken, _plain_amount(payment_columns.REFUNDED)), else_=None),
        case((taken, _plain_amount(payment_columns.net())), else_=None),
        case((taken, dispute_words), else_=None),
        case((disputed, case(REASON_WORDS, value=dispute.reason, else_=dispute.reason))),
        case((disputed, _plain_amount(dispute.amount_minor))),
        case((disputed, _utc(dispute.evidence_due_by))),
    )


def _card_label() -> ColumnElement:
    """``queries.card_label``: "Visa •••• 4242"."""
    brand = func.initcap(func.coalesce(func.nullif(Payment.card_brand, ""), "Card"))
    return case(
        (
            func.coalesce(Payment.card_last4, "") != "",
            func.concat(brand, " \u2022\u2022\u2022\u2022 ", Payment.card_last4),
        ),
        else_=None,
    )


def _cell(value: ColumnElement) -> ColumnElement:
    """``export_format.neutralise`` in SQL; NULL becomes the empty string, which FORCE_QUOTE
    writes as ``""`` like csv.writer (it would write NULL unquoted)."""
    text = _text(value)
    return case(
        (func.left(text, 1).in_(sorted(FORMULA_TRIGGERS)), func.concat(literal("'"), text)),
        else_=func.coalesce(text, ""),
    )


def cells_query(query: Select, now: datetime, max_attempts: int) -> Select:
    """``query`` (``queries.export_query``) with its columns replaced by the export's cells,
    in ``export_format.HEADER`` order; its joins, filters and order are kept."""
    words, refunded, net, *dispute = _payment_cells(max_attempts)
    return query.with_only_columns(
        *(
            _cell(value)
            for value in (
                _utc(CaptureRequest.created_at),
                CaptureRequest.public_id,
                CaptureRequest.kind,
                effective_status_sql(now),
                StaffUser.username,
                Team.name,
                CaptureRequest.reference,
                _plain_amount(),
                CaptureRequest.currency,
                words,
                _card_label(),
                _utc(Payment.succeeded_at),
                refunded,
                net,
                *dispute,
            )
        ),
        maintain_column_froms=False,
    )


def _driver_params(compiled: Compiled, connection: Connection) -> dict:
    """The statement's parameters as the driver must see them (each type's bind processing
    applied), for psycopg to merge into the COPY on the client: COPY takes no server-side
    parameters."""
    params = compiled.construct_params()
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        if process is not None and name in params:
            params[name] = process(params[name])
    return params


def csv_chunks(
    connection: Connection,
    query: Select,
    now: datetime,
    counter: list[int],
    max_attempts: int | None = None,
) -> Iterator[bytes]:
    """The export as CSV bytes: the header line, then every row of ``query``. Runs in the
    transaction of ``connection`` (a session's), which the caller ends. ``counter[0]`` counts
    the data rows written. ``max_attempts``: the app's ``PAYMENT_MAX_ATTEMPTS`` if not given."""
    limit = configured_max_attempts() if max_attempts is None else max_attempts
    compiled = cells_query(query, now, limit).compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    # The SQL text is SQLAlchemy's compilation of our own query; every value in it is a bound
    # parameter, merged by psycopg with its quoting.
    statement = _COPY.format(sql.SQL(str(compiled)))
    params = _driver_params(compiled, connection)
    pending = bytearray(HEADER_LINE.encode())
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement, params) as copy:
        # PostgreSQL sends each row of a COPY TO as exactly one message, ending in LF: swap
        # that for CRLF, as csv.writer ends its rows. (A line break inside a quoted cell stays
        # as it is, as csv.writer leaves it.)
        for row in copy:
            pending += row[:-1]
            pending += b"\r\n"
            counter[0] += 1
            if len(pending) >= CHUNK_BYTES:
                yield bytes(pending)
                pending.clear()
    yield bytes(pending)
