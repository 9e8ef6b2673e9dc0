"""A gunicorn worker is killed with SIGKILL while it is in the middle of creating requests: no
request is left half-written. Each create's transaction is caught mid-way (its request row
inserted, its audit row waiting on the audit chain's lock) when the worker dies."""

from __future__ import annotations

import secrets
import signal
import threading

import psycopg
import pytest
import requests
from sqlalchemy import select

from portal.audit.service import AUDIT_LOCK_KEY
from tests.conftest import DEFAULT_PASSWORD
from tests.reliability.conftest import needs_postgres
from tests.reliability.support import (
    assert_audit_chain_intact,
    assert_requests_whole,
    console_form,
    create_form,
    gunicorn_servers,
    lock_waits_by_process,
    send_signal,
    staff_login,
    wait_for,
)

IN_FLIGHT = 16
#: Two workers of eight threads each: however gunicorn spreads the sixteen connections between
#: them, at least eight creates are running (and so waiting on the lock) at once.
WORKERS, THREADS = 2, 8
pytestmark = [pytest.mark.postgres, pytest.mark.reliability, needs_postgres]


def test_sigkill_mid_create_leaves_nothing_half_written(app, make_staff, database_url):
    """Proves: when a worker dies mid-transaction, PostgreSQL rolls its work back whole: every
    request that exists has its audit row and outbox row, the killed worker's clients got a
    dropped connection (never a false "created"), the other worker's creates all complete, the
    audit chain verifies, and gunicorn replaces the worker so service continues."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    agent = make_staff("agent")
    plain_url = database_url.replace("+psycopg", "")
    with gunicorn_servers(database_url, 1, "worker-killed", workers=WORKERS, threads=THREADS) as (
        server,
    ):
        browser = staff_login(server.base, agent.username, DEFAULT_PASSWORD)
        csrf, _ = console_form(browser, server.base)
        cookies = browser.cookies.get_dict()
        answers: dict[str, int | str] = {}

        def create(reference: str) -> None:
            form = create_form(csrf, secrets.token_urlsafe(16), reference)
            try:
                answer = requests.post(
                    server.base + "/agent/requests",
                    data=form,
                    cookies=cookies,
                    allow_redirects=False,
                    timeout=60,
                )
                answers[reference] = answer.status_code
            except requests.RequestException as problem:
                answers[reference] = type(problem).__name__

        with psycopg.connect(plain_url, autocommit=True) as blocker:
            blocker.execute("SELECT pg_advisory_lock(%s)", (AUDIT_LOCK_KEY,))
            threads = [
                threading.Thread(target=create, args=(f"KILL-{n:02d}",), daemon=True)
                for n in range(IN_FLIGHT)
            ]
            for thread in threads:
                thread.start()
            workers = server.worker_pids()
            waits = wait_for(
                lambda: (
                    counts
                    if sum((counts := lock_waits_by_process(blocker, workers)).values()) >= THREADS
                    else None
                ),
                60,
                "the creates to be waiting mid-transaction",
            )
            # Kill the worker with the most creates caught mid-transaction: the kernel, not the
            # test, decides how the connections were spread between the two workers.
            victim = max(waits, key=waits.get)
            send_signal(victim, signal.SIGKILL)
            wait_for(lambda: victim not in server.worker_pids(), 10, "the worker to die")
            blocker.execute("SELECT pg_advisory_unlock(%s)", (AUDIT_LOCK_KEY,))
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)

        # The master replaces the dead worker; service goes on.
        wait_for(lambda: len(server.worker_pids()) == WORKERS, 30, "a replacement worker")
        create("KILL-after")
        assert answers["KILL-after"] == 302

    outcomes = sorted(map(str, answers.values()))
    dropped = [ref for ref, status in answers.items() if status != 302]
    assert dropped, f"the kill hit no request in flight: {outcomes}"
    assert all(status in (302, "ConnectionError") for status in answers.values()), outcomes
    with app.app_context():
        stored = set(db.session.execute(select(CaptureRequest.reference)).scalars())
    assert stored == {ref for ref, status in answers.items() if status == 302}
    assert assert_requests_whole(app) == len(stored)
    assert_audit_chain_intact(app)
