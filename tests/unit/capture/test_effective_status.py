"""The status as shown: ``states.effective_status`` and its SQL forms give the same answer.

The agreement test runs on the suite's database; run it with ``TEST_DATABASE_URL`` set to
cover PostgreSQL as well as SQLite (timestamps are compared in SQL, where each database keeps
them its own way).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql

from portal.capture import states
from portal.capture.states import EXPIRABLE, Status
from tests.support.capture import create_direct

NOW = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)
#: Expiries either side of NOW: up to and including NOW the link has lapsed.
EXPIRIES = {
    "lapsed a second ago": timedelta(seconds=-1),
    "lapsing this instant": timedelta(0),
    "a microsecond left": timedelta(microseconds=1),
    "an hour left": timedelta(hours=1),
}


def sql(clause) -> str:
    return str(clause.compile(dialect=postgresql.dialect()))


def test_the_filter_is_written_on_the_stored_columns_so_their_indexes_serve_it():
    expired = sql(states.effective_status_filter("expired", NOW))
    assert "capture_requests.status = " in expired
    assert "capture_requests.status IN" in expired and "capture_requests.expires_at <=" in expired
    assert "capture_requests.expires_at >" in sql(states.effective_status_filter("sent", NOW))
    assert "expires_at" not in sql(states.effective_status_filter("succeeded", NOW))


def test_python_and_sql_agree_on_every_status_either_side_of_the_expiry(app, make_staff):
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    public_id, _url = create_direct(app, make_staff("agent").id)
    this_request = CaptureRequest.public_id == public_id
    disagreements = []
    with app.app_context():
        for stored in Status:
            for when, offset in EXPIRIES.items():
                db.session.execute(
                    update(CaptureRequest)
                    .where(this_request)
                    .values(status=stored.value, expires_at=NOW + offset)
                )
                db.session.expire_all()
                request = db.session.execute(
                    select(CaptureRequest).where(this_request)
                ).scalar_one()
                expected = (
                    Status.EXPIRED if stored in EXPIRABLE and offset <= timedelta(0) else stored
                )
                shown = states.effective_status(request, NOW)
                column = db.session.execute(
                    select(states.effective_status_sql(NOW)).where(this_request)
                ).scalar_one()
                found_under = {
                    status
                    for status in Status
                    if db.session.execute(
                        select(CaptureRequest.id).where(
                            this_request, states.effective_status_filter(status.value, NOW)
                        )
                    ).first()
                }
                if not (shown == column == expected and found_under == {expected}):
                    disagreements.append(
                        f"{stored}, {when}: expected {expected}, Python {shown}, "
                        f"SQL column {column}, filter finds it under {sorted(found_under)}"
                    )
        db.session.rollback()
    assert not disagreements, "\n".join(disagreements)
