"""200 browsers press Start on one link at the same moment, through two gunicorn instances on
one PostgreSQL: exactly one binding is made, and every other browser is told, in plain words,
that the link was used on another device. (A bigger, two-instance sibling of
``test_start_race_postgres.py``.)"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import func, select

from tests.functional.capture_support import create_direct, path_of
from tests.reliability.conftest import needs_postgres
from tests.reliability.support import csrf_of

CLIENTS = 200
DEADLINE_SECONDS = 90

pytestmark = [pytest.mark.postgres, pytest.mark.reliability, needs_postgres]


def test_two_hundred_starts_bind_exactly_once(app, make_staff, two_servers):
    """Proves: one conditional UPDATE decides the race across processes; 199 refusals (409),
    one winner; the row, its audit trail (one bound, 199 bind_refused) agree."""
    from portal.extensions import db
    from portal.models.audit import AuditEvent
    from portal.models.capture import CaptureRequest

    public_id, url = create_direct(app, make_staff("agent").id)
    path = path_of(url)
    barrier = threading.Barrier(CLIENTS, timeout=DEADLINE_SECONDS)
    results: list = [None] * CLIENTS

    def customer(index: int) -> None:
        read_from, post_to = two_servers[index % 2], two_servers[(index + 1) % 2]
        try:
            with requests.Session() as browser:
                landing = browser.get(read_from + path, timeout=60)
                assert landing.status_code == 200, landing.status_code
                token = csrf_of(landing.text)
                barrier.wait()
                answer = browser.post(
                    post_to + path + "/start",
                    data={"csrf_token": token},
                    allow_redirects=False,
                    timeout=60,
                )
                results[index] = (answer.status_code, answer.text)
        except BaseException as problem:  # noqa: BLE001 - reported below, per client
            results[index] = problem
            barrier.abort()

    threads = [threading.Thread(target=customer, args=(i,), daemon=True) for i in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, DEADLINE_SECONDS - (time.monotonic() - started)))
    assert not any(thread.is_alive() for thread in threads), "clients did not finish in time"
    problems = [r for r in results if isinstance(r, BaseException)]
    assert not problems, problems[:3]

    statuses = sorted(status for status, _ in results)
    assert sum(1 for s in statuses if 200 <= s < 400) == 1, statuses
    refused = [body for status, body in results if status == 409]
    assert len(refused) == CLIENTS - 1, statuses
    assert all("already been used on another device" in body for body in refused)

    with app.app_context():
        row = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        assert row.bound_secret_hash is not None

        def audited(action: str) -> int:
            return db.session.execute(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.target_id == public_id)
            ).scalar_one()

        assert audited("capture.bound") == 1
        assert audited("capture.bind_refused") == CLIENTS - 1
