"""PostgreSQL stops during traffic and starts again: Postern says so plainly and recovers by
itself. Uses a PRIVATE PostgreSQL cluster (initdb into a temporary directory, a free port), never
the shared server other work relies on."""

from __future__ import annotations

import itertools
import secrets
import threading

import psycopg
import pytest
import requests

from portal import create_app
from portal.audit.service import AUDIT_LOCK_KEY
from tests.reliability.support import (
    assert_audit_chain_intact,
    assert_requests_whole,
    console_form,
    create_form,
    gunicorn_servers,
    migrate,
    private_postgres,
    private_postgres_unavailable,
    staff_login,
    wait_for,
)

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(
        private_postgres_unavailable() is not None,
        reason=str(private_postgres_unavailable()),
    ),
]
PASSWORD = "correct horse battery staple 42"
CREATORS = 8


def _waiting_on_locks(connection) -> int:
    return connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    ).fetchone()[0]


class Traffic:
    """An agent's browser creating requests from several tabs at once until stopped, so that
    some transactions are always in flight when PostgreSQL stops; remembers every answer."""

    def __init__(self, base: str, browser: requests.Session):
        # One CSRF token and one cookie set serve the whole run (the token lives in the signed
        # session cookie, not in the database), so creates keep arriving while PostgreSQL is
        # down. Answers' cookies are not kept: each create adds a flash message to the cookie.
        self.base = base
        self.csrf, _ = console_form(browser, base)
        self.cookies = browser.cookies.get_dict()
        self.stop = threading.Event()
        self.answers: list[tuple[str, int | str]] = []
        self.numbers = itertools.count()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CREATORS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        while not self.stop.is_set():
            reference = f"PG-{next(self.numbers):05d}"
            form = create_form(self.csrf, secrets.token_urlsafe(16), reference)
            try:
                answer = requests.post(
                    self.base + "/agent/requests",
                    data=form,
                    cookies=self.cookies,
                    allow_redirects=False,
                    timeout=30,
                )
                self.answers.append((reference, answer.status_code))
            except requests.RequestException as problem:
                self.answers.append((reference, type(problem).__name__))

    def statuses(self) -> set:
        return {status for _, status in self.answers}


def test_database_outage_is_reported_and_recovered_from(tmp_path):
    """Proves: with PostgreSQL stopped, /readyz answers 503 and pages answer a clear 503 (never
    a 500 or a hung request); once it is back, the same gunicorn processes serve again without a
    restart (pool_pre_ping), every request reported created exists, and nothing is half-written:
    each request has its audit row and its outbox row, and the audit chain verifies."""
    with private_postgres() as cluster:
        migrate(cluster.url)
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": cluster.url})
        from portal.cli import create_staff
        from portal.extensions import db

        with app.app_context():
            create_staff("pgagent", PASSWORD, "agent")
            db.session.commit()
            db.engine.dispose()

        with gunicorn_servers(cluster.url, 1, "db-restart") as (server,):
            base = server.base
            agent = staff_login(base, "pgagent", PASSWORD)
            traffic = Traffic(base, agent)
            traffic.start()
            try:
                wait_for(lambda: traffic.statuses() >= {302}, 30, "requests before the outage")

                # Hold the audit chain's lock so creates are caught mid-transaction (their
                # request row inserted, not committed) at the moment PostgreSQL stops.
                blocker = psycopg.connect(cluster.url.replace("+psycopg", ""), autocommit=True)
                blocker.execute("SELECT pg_advisory_lock(%s)", (AUDIT_LOCK_KEY,))
                wait_for(lambda: _waiting_on_locks(blocker) >= 2, 20, "creates mid-transaction")
                cluster.stop()
                blocker.close()
                ready = requests.get(base + "/readyz", timeout=10)
                assert ready.status_code == 503
                assert ready.json() == {"status": "unavailable", "database": "unreachable"}
                page = agent.get(base + "/agent/", timeout=10)
                assert page.status_code == 503
                assert "The service is temporarily unavailable" in page.text
                assert "Nothing was lost" in page.text
                poll = agent.get(base + "/agent/api/requests", timeout=10)
                assert poll.status_code == 503 and poll.json()["error"] == 503
                seen_before = len(traffic.answers)
                wait_for(
                    lambda: any(s == 503 for _, s in traffic.answers[seen_before:]),
                    20,
                    "a create refused with 503 during the outage",
                )

                cluster.start()
                wait_for(
                    lambda: requests.get(base + "/readyz", timeout=10).status_code == 200,
                    30,
                    "readiness after PostgreSQL came back",
                    every=0.2,
                )
                after = len(traffic.answers)
                wait_for(
                    lambda: any(s == 302 for _, s in traffic.answers[after:]),
                    30,
                    "a request created after the restart",
                )
            finally:
                traffic.join()
            assert agent.get(base + "/agent/", timeout=10).status_code == 200

        statuses = traffic.statuses()
        assert statuses <= {302, 503, "ConnectionError"}, statuses
        assert 500 not in statuses
        created = {reference for reference, status in traffic.answers if status == 302}
        attempted = {reference for reference, _ in traffic.answers}
        from sqlalchemy import select

        from portal.models.capture import CaptureRequest

        with app.app_context():
            stored = set(db.session.execute(select(CaptureRequest.reference)).scalars())
        assert created <= stored, "a request reported created was lost"
        assert stored <= attempted
        assert assert_requests_whole(app) == len(stored)
        assert_audit_chain_intact(app)
        with app.app_context():
            db.engine.dispose()
