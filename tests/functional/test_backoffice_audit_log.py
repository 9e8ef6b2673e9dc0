"""The audit log viewer: who may read it, filters, keyset pages, and the banner saying whether
the hash chain verifies (incrementally, and what a full walk costs at 100,000 rows)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from tests.support.backoffice_read import AUDIT_COLUMNS, bulk_insert, chained_audit_rows
from tests.support.web import csrf_from, signed_in

SEQS = re.compile(r'<td class="numeric">(\d+)</td>')


def record(app, count: int, action="test.event", **kwargs) -> None:
    from portal import audit
    from portal.extensions import db

    with app.app_context():
        for n in range(count):
            audit.record(
                action, target_type="thing", target_id=f"T{n}", actor=audit.SYSTEM, **kwargs
            )
        db.session.commit()


def as_maintenance(app, statement: str) -> None:
    """A write on audit_events as only maintenance may (PostgreSQL's trigger refuses others)."""
    from portal.extensions import db

    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
        connection.execute(text(statement))


def search(client, **filters):
    page = client.get("/backoffice/audit")
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), **filters}
    return client.post("/backoffice/audit/search", data=data, follow_redirects=True)


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_only_audit_readers_may_open_it(app, make_staff, role):
    client, _ = signed_in(app, make_staff, role)
    assert client.get("/backoffice/audit").status_code == 403


def test_auditors_read_it_and_see_that_the_chain_verifies(app, make_staff):
    client, _ = signed_in(app, make_staff, "auditor")
    record(app, 3)
    html = client.get("/backoffice/audit").get_data(as_text=True)
    assert "The audit trail verifies." in html
    assert "test.event" in html


def test_the_banner_checks_new_rows_only_and_notices_deletions_at_once(app, make_staff):
    client, _ = signed_in(app, make_staff, "backoffice")
    record(app, 20)
    first = client.get("/backoffice/audit").get_data(as_text=True)
    assert "The audit trail verifies." in first
    assert re.search(r"\b2\d rows checked against the hash chain", first)

    record(app, 5)
    second = client.get("/backoffice/audit").get_data(as_text=True)
    assert "The audit trail verifies." in second
    assert re.search(r"\b[56] rows checked just now", second)  # the new ones (and a view's)

    as_maintenance(app, "DELETE FROM audit_events WHERE seq = 7")  # someone with DB access
    third = client.get("/backoffice/audit").get_data(as_text=True)
    assert "The audit trail does NOT verify." in third
    assert "already verified row(s) are missing (deleted)" in third


def test_an_edited_row_is_caught_by_the_next_complete_walk(app_factory):
    from portal.audit.chain_status import current_status

    app = app_factory(BACKOFFICE_AUDIT_FULL_VERIFY_SECONDS=0)  # a fresh walk on every view
    record(app, 10)
    with app.test_request_context():
        assert current_status().ok
    as_maintenance(app, "UPDATE audit_events SET actor_label = 'someone.else' WHERE seq = 4")
    with app.test_request_context():
        status = current_status()
    assert not status.ok and status.first_bad_seq == 4
    assert "content does not match its hash" in status.problem


def test_a_long_chain_is_walked_a_slice_per_view(app_factory):
    from portal.audit.chain_status import current_status

    app = app_factory(BACKOFFICE_AUDIT_VERIFY_BUDGET=8)
    record(app, 20)
    seen = []
    with app.test_request_context():
        for _ in range(3):
            status = current_status()
            seen.append((status.ok, status.rows, status.caught_up, status.remaining))
    assert seen == [(True, 8, False, 12), (True, 16, False, 4), (True, 20, True, 0)]


def test_retention_trimming_the_oldest_rows_is_no_alarm_but_a_forged_checkpoint_is(app_factory):
    from portal.audit.chain_status import current_status
    from portal.audit.checkpoints import trim_batch
    from portal.extensions import db
    from portal.models.audit import AuditEvent
    from portal.models.retention import AuditCheckpoint
    from portal.models.types import utcnow

    app = app_factory()
    record(app, 20)
    with app.test_request_context():
        assert current_status().rows == 20
    with app.app_context():
        assert trim_batch(utcnow() + timedelta(days=1), 5) == 5  # retention, done properly
    with app.test_request_context():
        status = current_status()
    assert status.ok and status.starts_at_checkpoint and status.rows == 15
    with app.test_request_context():  # a process starting afresh agrees
        app.extensions.pop("postern.audit_chain_status")
        assert current_status().rows == 15

    # Someone deletes more old rows by hand and forges a checkpoint to cover it up.
    as_maintenance(app, "DELETE FROM audit_events WHERE seq <= 8")
    with app.app_context():
        row_hash = db.session.execute(select(AuditEvent.row_hash).where(AuditEvent.seq == 9))
        db.session.add(
            AuditCheckpoint(
                first_seq=9,
                first_row_hash=row_hash.scalar_one(),
                rows_deleted=3,
                created_at=utcnow(),
                seal="0" * 64,
            )
        )
        db.session.commit()
    with app.test_request_context():
        assert not current_status().ok
        app.extensions.pop("postern.audit_chain_status")
        fresh = current_status()
    assert not fresh.ok and "no genuine retention checkpoint" in fresh.problem


def test_filters_and_pages(app, make_staff):
    client, user = signed_in(app, make_staff, "backoffice")
    record(app, 30, action="alpha.one")
    record(app, 5, action="alpha.two")
    record(app, 5, action="beta.one")

    def seqs(response):
        assert response.status_code == 200, response.get_data(as_text=True)[:1500]
        return [int(s) for s in SEQS.findall(response.get_data(as_text=True))]

    assert len(seqs(search(client, action="alpha.two"))) == 5
    assert len(seqs(search(client, action="alpha.*", per_page="100"))) == 35
    assert len(seqs(search(client, actor=user.username))) >= 1  # their own sign-in
    assert len(seqs(search(client, target_type="thing", target_id="T3"))) == 3
    today = datetime.now(UTC).date()
    assert seqs(search(client, date_from=(today + timedelta(days=2)).isoformat())) == []

    # Keyset pages: newest first, no gaps, no repeats.
    url, seen = "/backoffice/audit?action=alpha.one&per_page=25", []
    while url:
        response = client.get(url)
        seen += seqs(response)
        older = re.search(r'rel="next" href="([^"]+)"', response.get_data(as_text=True))
        url = older and older.group(1).replace("&amp;", "&")
    assert len(seen) == 30 and seen == sorted(seen, reverse=True) and len(set(seen)) == 30


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"action": "DROP TABLE"}, "Action: enter an action like payment.failed"),
        ({"date_from": "2026-13-01"}, "From: enter a real date"),
        ({"target_id": "4111-1111-1111-1111"}, "Target id: This looks like a card number"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "To: must be the same as or after"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(app, make_staff, filters, message):
    client, _ = signed_in(app, make_staff, "auditor")
    response = search(client, **filters)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert "4111" not in html


def test_verifying_one_hundred_thousand_rows(app_factory, record_property):
    """Measures what the banner costs: a full walk of 100,000 rows, then an incremental check."""
    from portal.audit.chain_status import current_status
    from portal.audit.service import chain_key
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    rows = 100_000
    app = app_factory(BACKOFFICE_AUDIT_VERIFY_BUDGET=rows + 100)  # the whole walk in one view
    with app.app_context():
        started = time.perf_counter()
        bulk_insert(
            db,
            "audit_events",
            AUDIT_COLUMNS,
            chained_audit_rows(rows, chain_key(), start=datetime(2026, 1, 1, tzinfo=UTC)),
        )
        db.session.commit()
        seeded = time.perf_counter() - started
        assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == rows

    with app.test_request_context():
        started = time.perf_counter()
        full = current_status()
        full_seconds = time.perf_counter() - started
        record(app, 10)
        started = time.perf_counter()
        incremental = current_status()
        incremental_seconds = time.perf_counter() - started

    assert full.ok and full.caught_up and full.rows == rows and full.checked_now == rows
    assert incremental.ok and incremental.checked_now == 10
    assert incremental.rows == rows + 10  # checked_now == 10: only the new rows were walked
    record_property("audit_full_walk_100k_seconds", round(full_seconds, 2))
    print(  # the figures the report quotes
        f"\naudit verify: full walk of {rows} rows {full_seconds:.2f} s "
        f"({rows / full_seconds:,.0f} rows/s); incremental (10 new rows) "
        f"{incremental_seconds * 1000:.0f} ms; seeding {seeded:.2f} s"
    )
