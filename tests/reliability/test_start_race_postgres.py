"""Many browsers (100, then 200) press Start on one link at the same moment, on the
production-like stack (nginx, gunicorn with production settings and two worker processes,
PostgreSQL, Redis): exactly one binding is made, and every other browser is told, in plain
words, that the link was used on another device.

Each client has its own cookies, fetches the landing page (for the CSRF token) and presses
Start through nginx, all released together; the kernel spreads them over gunicorn's worker
processes, so the race is between processes. The module's stack has its rate limits lifted
(every simulated browser shares 127.0.0.1); nothing else differs from production.
"""

from __future__ import annotations

import pytest

from tests.reliability.stack_support import (
    add_agent,
    audit_counts,
    browser,
)
from tests.reliability.support import start_race
from tests.support.capture import create_direct

pytestmark = [pytest.mark.reliability, pytest.mark.prodlike]


@pytest.fixture(scope="module")
def agent_id(fault_stack) -> int:
    return add_agent(fault_stack, "raceagent")


@pytest.mark.parametrize(
    ("clients", "deadline_seconds", "request_timeout"),
    [pytest.param(100, 60, 30, id="100-browsers"), pytest.param(200, 90, 60, id="200-browsers")],
)
def test_exactly_one_browser_wins_the_start_race(
    stack, agent_id, clients, deadline_seconds, request_timeout
):
    """Proves: one conditional UPDATE decides the race across processes; clients - 1 refusals
    (409), one winner; the row and its audit trail (one bound, one opened, clients - 1
    bind_refused) agree."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    public_id, link = create_direct(stack.app(), agent_id)
    path = link[len(stack.url) :]
    results = start_race(
        [stack.url], path, clients, deadline_seconds, request_timeout, lambda: browser(stack)
    )

    statuses = [status for status, _body in results]
    winners = [s for s in statuses if 200 <= s < 400]
    refused = [body for status, body in results if status == 409]
    assert len(winners) == 1, sorted(statuses)
    assert len(refused) == clients - 1, sorted(statuses)
    assert all("already been used on another device" in body for body in refused)

    with stack.app().app_context():
        row = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        assert row.bound_secret_hash is not None and row.bound_at is not None
        db.session.remove()
    audited = audit_counts(stack, {public_id})
    assert audited[(public_id, "capture.bound")] == 1
    assert audited[(public_id, "capture.opened")] == 1
    assert audited[(public_id, "capture.bind_refused")] == clients - 1
