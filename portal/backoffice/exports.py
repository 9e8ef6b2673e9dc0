"""CSV export of the transactions list: the same filters, every matching row, streamed.

The export holds exactly what the list shows (no captured value, cards as brand and last four
digits) and is written as it is read, so memory stays flat at a million rows
(``portal.reporting.exports``). Every export is audited BEFORE the first byte leaves, in its
own committed transaction (a streamed response cannot take it back), with the filter used; a
second row records how many rows were sent, or that the download stopped.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, g, request, stream_with_context

from portal import audit
from portal.backoffice.transactions import parse_filter, render_list
from portal.backoffice.views import bp
from portal.extensions import db
from portal.models.types import utcnow
from portal.reporting import keyset, queries
from portal.reporting.exports import csv_chunks, record_finish, reference_fingerprint
from portal.security.actors import signed_in_actor
from portal.security.authz import Permission
from portal.security.guards import requires


@bp.get("/transactions/export.csv")
@requires(Permission.EXPORT)
def export_transactions():
    parsed = parse_filter(request.args)
    if not parsed.ok:
        return render_list(parsed, None, keyset.DEFAULT_PAGE_SIZE, status=400)
    user, flt, now = g.staff_user, parsed.filter, utcnow()
    # Everything the stream needs is taken now: the request's session (and ``user`` with it)
    # is closed once this view returns, while the rows are still flowing.
    actor = signed_in_actor()
    started = audit.record(
        "export.transactions",
        actor=actor,
        target_type="export",
        details={
            "filter": flt.audit_details(reference_fingerprint),
            "scope": "all" if queries.sees_everything(user) else "team",
        },
    )
    query = queries.export_query(user, flt, now)
    db.session.commit()
    # After the commit: its seq once sealed (at the commit itself when sealing inline).
    export_seq = audit.reference(started)

    def generate() -> Iterator[str | bytes]:
        counter = [0]
        finished = False
        try:
            yield from csv_chunks(query, now, counter)
            finished = True
        finally:
            record_finish("success" if finished else "incomplete", counter[0], export_seq, actor)

    stamp = now.strftime("%Y%m%d-%H%M%S")
    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="transactions-{stamp}.csv"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
