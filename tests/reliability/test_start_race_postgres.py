"""Many browsers press Start on one link at the same moment, across several app processes:
exactly one is bound, every other one is told the link was used on another device.

Runs two gunicorn servers (two workers each) on free loopback ports against the test
PostgreSQL database, then 100 clients, each with its own cookies, fetch the landing page (for
the CSRF token) from one server and press Start on the other, all released together.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from tests.functional.capture_support import create_direct, path_of

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 100
DEADLINE_SECONDS = 60

_URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not _URL.startswith(("postgres://", "postgresql")),
        reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql://... (SQLite serialises "
        "writers, so it cannot show a race between app processes)",
    ),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer within 30 s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def servers(database_url, tmp_path):
    """Two gunicorn servers on loopback; stopped (by their own pids) after the test."""
    overrides = {
        # 100 clients share one loopback address: lift the per-IP limits for this test only.
        "RATELIMIT_CUSTOMER_LINK_PER_IP": "10000 per minute",
        "RATELIMIT_CUSTOMER_START_PER_IP": "10000 per minute",
    }
    started = []
    try:
        for index in range(2):
            port = _free_port()
            log = tmp_path / f"gunicorn-{index}.log"
            env = {
                **os.environ,
                "POSTERN_TEST_DATABASE_URL": database_url,
                "POSTERN_TEST_OVERRIDES": json.dumps(overrides),
                "POSTERN_BIND": f"127.0.0.1:{port}",
                "POSTERN_WORKERS": "2",
                "POSTERN_THREADS": "8",
                "POSTERN_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            }
            handle = log.open("w")
            server = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "gunicorn"),
                    "-c",
                    str(ROOT / "config" / "gunicorn.conf.py"),
                    "tests.reliability.served_app:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            started.append((server, handle))
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base, server, log)
            started[-1] = (server, handle, base)
        yield [entry[2] for entry in started]
    finally:
        for entry in started:
            server, handle = entry[0], entry[1]
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
            handle.close()


def _csrf(html: str) -> str:
    from tests.conftest import csrf_from

    return csrf_from(html)


def test_exactly_one_browser_wins_the_start_race(app, make_staff, servers):
    from portal.extensions import db
    from portal.models.audit import AuditEvent
    from portal.models.capture import CaptureRequest

    public_id, url = create_direct(app, make_staff("agent").id)
    path = path_of(url)
    barrier = threading.Barrier(CLIENTS, timeout=DEADLINE_SECONDS)
    results: list[tuple[int, str] | BaseException] = [None] * CLIENTS  # type: ignore[list-item]

    def customer(index: int) -> None:
        # Each client reads the landing page from one server and presses Start on the other.
        read_from, post_to = servers[index % 2], servers[(index + 1) % 2]
        try:
            with requests.Session() as browser:
                landing = browser.get(read_from + path, timeout=30)
                assert landing.status_code == 200, landing.status_code
                token = _csrf(landing.text)
                barrier.wait()
                answer = browser.post(
                    post_to + path + "/start",
                    data={"csrf_token": token},
                    allow_redirects=False,
                    timeout=30,
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

    statuses = [status for status, _body in results]
    winners = [s for s in statuses if 200 <= s < 400]
    refused = [body for status, body in results if status == 409]
    assert len(winners) == 1, sorted(statuses)
    assert len(refused) == CLIENTS - 1, sorted(statuses)
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
        assert audited("capture.bind_refused") == CLIENTS - 1
