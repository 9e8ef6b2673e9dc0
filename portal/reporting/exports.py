"""The transactions export, HTTP-free: the rows as CSV, and how a download ended, audited.

``portal.backoffice.exports`` is the page: it audits the start, streams ``csv_chunks`` and
calls ``record_finish`` once the last byte has gone (or the download stopped). On PostgreSQL
the database writes the CSV itself with COPY (``export_copy``); elsewhere rows come from a
server-side cursor a batch at a time and ``csv.writer`` writes them (``export_format``). Both
write the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from datetime import datetime

from flask import current_app
from sqlalchemy import Select

from portal import audit
from portal.extensions import db
from portal.reporting import export_copy, export_format, queries

log = logging.getLogger("postern.backoffice.exports")


def reference_fingerprint(value: str) -> str:
    """A keyed hash of a searched reference, for the audit row: matchable, not readable."""
    key = current_app.config["AUDIT_CHAIN_KEY"].encode() + b"|export-filter"
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def csv_chunks(query: Select, now: datetime, counter: list[int]) -> Iterator[str | bytes]:
    """The export of ``query`` as CSV, a chunk at a time; ``counter[0]`` counts the rows."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        yield from export_copy.csv_chunks(connection, query, now, counter)
    else:
        yield from export_format.csv_chunks(queries.stream(query), counter, now)


def record_finish(action_outcome: str, rows: int, export_seq: str, actor: audit.Actor) -> None:
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
