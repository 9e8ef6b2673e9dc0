"""CSV export of the transactions list: the same filters, every matching row, streamed.

The export holds exactly what the list shows (no captured value, cards as brand and last four
digits; ``export_format``) and is written as it is read, so memory stays flat at a million
rows: on PostgreSQL the database writes the CSV itself with COPY (``export_copy``), elsewhere
rows come from a server-side cursor a batch at a time and ``csv.writer`` writes them. Both
write the same bytes. Every export is audited BEFORE the first byte leaves, in its own
committed transaction (a streamed response cannot take it back), with the filter used; a
second row records how many rows were sent, or that the download stopped.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator

from flask import Response, current_app, g, request, stream_with_context

from portal import audit
from portal.backoffice import export_copy, export_format, keyset, queries
from portal.backoffice.transactions import parse_filter, render_list
from portal.backoffice.views import bp
from portal.extensions import db
from portal.models.types import utcnow
from portal.security.authz import Permission
from portal.security.guards import requires

log = logging.getLogger("postern.backoffice.exports")


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

    def generate() -> Iterator[str | bytes]:
        counter = [0]
        finished = False
        try:
            connection = db.session.connection()
            if connection.dialect.name == "postgresql":
                yield from export_copy.csv_chunks(connection, query, now, counter)
            else:
                yield from export_format.csv_chunks(queries.stream(query), counter, now)
            finished = True
        finally:
            _finish("success" if finished else "incomplete", counter[0], export_seq, actor)

    stamp = now.strftime("%Y%m%d-%H%M%S")
    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="transactions-{stamp}.csv"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
