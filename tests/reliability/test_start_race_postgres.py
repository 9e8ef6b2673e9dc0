"""Many browsers (100, then 200) press Start on one link at the same moment, through two
gunicorn instances (two workers each) on one PostgreSQL: exactly one binding is made, and every
other browser is told, in plain words, that the link was used on another device.

Each client has its own cookies, fetches the landing page (for the CSRF token) from one server
and presses Start on the other, all released together.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.functional.capture_support import create_direct, path_of
from tests.reliability.conftest import needs_postgres
from tests.reliability.support import start_race

pytestmark = [pytest.mark.postgres, pytest.mark.reliability, needs_postgres]


@pytest.mark.parametrize(
    ("clients", "deadline_seconds", "request_timeout"),
    [pytest.param(100, 60, 30, id="100-browsers"), pytest.param(200, 90, 60, id="200-browsers")],
)
def test_exactly_one_browser_wins_the_start_race(
    app, make_staff, two_servers, clients, deadline_seconds, request_timeout
):
    """Proves: one conditional UPDATE decides the race across processes; clients - 1 refusals
    (409), one winner; the row, its audit trail (one bound, one opened, clients - 1
    bind_refused) agree."""
    from portal.extensions import db
    from portal.models.audit import AuditEvent
    from portal.models.capture import CaptureRequest

    public_id, url = create_direct(app, make_staff("agent").id)
    path = path_of(url)
    results = start_race(two_servers, path, clients, deadline_seconds, request_timeout)

    statuses = [status for status, _body in results]
    winners = [s for s in statuses if 200 <= s < 400]
    refused = [body for status, body in results if status == 409]
    assert len(winners) == 1, sorted(statuses)
    assert len(refused) == clients - 1, sorted(statuses)
    assert all("already been used on another device" in body for body in refused)

    with app.app_context():
        row = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        assert row.bound_secret_hash is not None and row.bound_at is not None

        def audited(action: str) -> int:
            return db.session.execute(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.target_id == public_id)
            ).scalar_one()

        assert audited("capture.bound") == 1
        assert audited("capture.opened") == 1
        assert audited("capture.bind_refused") == clients - 1
