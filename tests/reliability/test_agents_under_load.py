"""200 agent browsers at once, through two gunicorn instances on one PostgreSQL: each signs in,
creates requests through the real console form (CSRF, outbox row, audit rows) and polls their
status with ETags. Nothing errors, and nothing is lost: every request an agent was told was
created is in the database with its outbox message and audit row, and nothing else is."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from tests.reliability.support import (
    console_form,
    create_form,
    needs_postgres_writers,
    run_clients,
    staff_login,
)
from tests.support.staff import DEFAULT_PASSWORD

ACCOUNTS = 20
CLIENTS = 200
CREATES_PER_CLIENT = 2
POLLS_PER_REQUEST = 3
DEADLINE_SECONDS = 150

pytestmark = [pytest.mark.postgres, pytest.mark.reliability, needs_postgres_writers]


def _agent_session(base: str, username: str, index: int, barrier, outcome: dict) -> None:
    browser = staff_login(base, username, DEFAULT_PASSWORD)
    barrier.wait()
    created = []
    for number in range(CREATES_PER_CLIENT):
        reference = f"LOAD-{index:03d}-{number}"
        csrf, create_key = console_form(browser, base)
        answer = browser.post(
            base + "/agent/requests",
            data=create_form(csrf, create_key, reference),
            allow_redirects=False,
            timeout=60,
        )
        outcome["statuses"].append(answer.status_code)
        assert answer.status_code == 302, (answer.status_code, answer.text[:300])
        created.append(reference)
    for reference in created:
        # The console's search, as the agent would find it: their list pages at ten, and
        # ten clients share each account here.
        listing = browser.get(base + "/agent/api/requests", params={"q": reference}, timeout=60)
        outcome["statuses"].append(listing.status_code)
        mine = {panel["reference"]: panel["id"] for panel in listing.json()["mine"]}
        public_id = mine[reference]  # a KeyError here is a request the agent cannot see
        etag = None
        for _ in range(POLLS_PER_REQUEST):
            headers = {"X-Postern-Background": "poll"}
            if etag:
                headers["If-None-Match"] = etag
            poll = browser.get(
                f"{base}/agent/api/requests/{public_id}/status", headers=headers, timeout=60
            )
            outcome["statuses"].append(poll.status_code)
            assert poll.status_code in (200, 304), poll.status_code
            if poll.status_code == 200:
                assert poll.json()["id"] == public_id
            etag = poll.headers.get("ETag", etag)
        outcome["created"].append(reference)


def test_two_hundred_agents_create_and_poll(app, make_staff, two_servers):
    """Proves: under 200 concurrent staff sessions on two app instances, creating requests
    (each one serialised through the audit chain's lock) and polling them never fails, no
    created request is lost or doubled, and each has exactly its outbox and audit rows."""
    from portal.extensions import db
    from portal.models.audit import AuditEvent
    from portal.models.capture import CaptureRequest
    from portal.models.delivery import DeliveryMessage

    accounts = [make_staff("agent").username for _ in range(ACCOUNTS)]
    barrier = threading.Barrier(CLIENTS, timeout=DEADLINE_SECONDS)
    outcome = {"statuses": [], "created": [], "problems": []}

    def client(index: int) -> None:
        try:
            _agent_session(
                two_servers[index % 2], accounts[index % ACCOUNTS], index, barrier, outcome
            )
        except BaseException as problem:  # noqa: BLE001 - reported below
            outcome["problems"].append(repr(problem)[:300])
            barrier.abort()

    run_clients(client, CLIENTS, DEADLINE_SECONDS)
    assert not outcome["problems"], outcome["problems"][:3]
    counts = Counter(outcome["statuses"])
    assert not [s for s in counts if s >= 500], counts
    expected = CLIENTS * CREATES_PER_CLIENT
    assert len(outcome["created"]) == expected

    with app.app_context():
        references = db.session.execute(select(CaptureRequest.reference)).scalars().all()
        assert sorted(references) == sorted(outcome["created"])  # none lost, none doubled
        messages = db.session.execute(
            select(func.count(func.distinct(DeliveryMessage.capture_request_id)))
        ).scalar_one()
        assert messages == expected
        assert (
            db.session.execute(select(func.count()).select_from(DeliveryMessage)).scalar_one()
            == expected
        )

        def audited(action: str) -> int:
            return db.session.execute(
                select(func.count(func.distinct(AuditEvent.target_id))).where(
                    AuditEvent.action == action
                )
            ).scalar_one()

        assert audited("capture.created") == expected
        assert audited("delivery.queued") == expected
