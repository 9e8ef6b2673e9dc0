"""Real processes for the reliability tests: gunicorn servers, a private PostgreSQL, workers.

Everything listens on 127.0.0.1 only, on free ports, and is stopped by its own pid. Server logs
go to ``tests/_artifacts/reliability/`` so ``tests/security/test_logs_masked.py`` can check them
for card numbers too. (Not called ``*_test.py``: pytest would collect it.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.artifacts import ARTIFACTS
from tests.support.database import dispose_engines, needs_postgres
from tests.support.loopback import free_port
from tests.support.web import csrf_from

#: For tests that need several app processes writing at once: SQLite serialises writers.
needs_postgres_writers = needs_postgres(
    "SQLite serialises writers, so it cannot show what happens between app processes"
)

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ARTIFACTS / "reliability"
BIN = Path(sys.executable).parent
#: Every per-IP limit lifted: all simulated clients share the loopback address.
NO_RATE_LIMITS = {
    "RATELIMIT_CUSTOMER_LINK_PER_IP": "100000 per minute",
    "RATELIMIT_CUSTOMER_START_PER_IP": "100000 per minute",
    "RATELIMIT_IDENTITY_PER_REQUEST_IP": "100000 per minute",
    "RATELIMIT_LOGIN_PER_IP": "100000 per minute",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "100000 per minute",
    "RATELIMIT_PAYMENT_STATUS_PER_IP": "100000 per minute",
}


def log_path(name: str) -> Path:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return LOG_DIR / f"{name}.log"


def app_env(database_url: str, overrides: dict | None = None, **extra: str) -> dict[str, str]:
    """The environment for ``tests.reliability.served_app`` (gunicorn or ``flask``)."""
    return {
        **os.environ,
        "POSTERN_TEST_DATABASE_URL": database_url,
        "POSTERN_TEST_OVERRIDES": json.dumps({**NO_RATE_LIMITS, **(overrides or {})}),
        "POSTERN_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
        "FLASK_APP": "tests.reliability.served_app:app",
        **extra,
    }


def _stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class Gunicorn:
    """One gunicorn master (config/gunicorn.conf.py) serving Postern on a loopback port."""

    base: str
    process: subprocess.Popen
    log: Path
    handles: list = field(default_factory=list)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        _stop(self.process)
        for handle in self.handles:
            handle.close()


def start_gunicorn(
    database_url: str,
    name: str,
    *,
    overrides: dict | None = None,
    workers: int = 2,
    threads: int = 8,
    timeout: float = 30,
) -> Gunicorn:
    """Start gunicorn with the project's settings file; returns once /healthz answers."""
    port = free_port()
    log = log_path(name)
    handle = log.open("a")
    env = app_env(
        database_url,
        overrides,
        POSTERN_BIND=f"127.0.0.1:{port}",
        POSTERN_WORKERS=str(workers),
        POSTERN_THREADS=str(threads),
    )
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-c",
            str(ROOT / "config" / "gunicorn.conf.py"),
            "tests.reliability.served_app:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    server = Gunicorn(f"http://127.0.0.1:{port}", process, log, [handle])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            handle.close()
            raise AssertionError(f"gunicorn exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(server.base + "/healthz", timeout=5).status_code == 200:
                return server
        except requests.RequestException:  # not listening yet
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"gunicorn did not answer within {timeout:g}s:\n{log.read_text()[-3000:]}")


@contextmanager
def gunicorn_servers(database_url: str, count: int, name: str, **kwargs) -> Iterator[list]:
    started: list[Gunicorn] = []
    try:
        for index in range(count):
            started.append(start_gunicorn(database_url, f"{name}-{index}", **kwargs))
        yield started
    finally:
        for server in started:
            server.stop()


@contextmanager
def outbox_workers(database_url: str, count: int, name: str, overrides: dict) -> Iterator[list]:
    """``flask outbox work`` processes (the real worker loop), stopped by SIGTERM."""
    started = []
    try:
        for index in range(count):
            handle = log_path(f"{name}-{index}").open("a")
            process = subprocess.Popen(
                [str(BIN / "flask"), "outbox", "work", "--poll", "0.2"],
                cwd=ROOT,
                env=app_env(database_url, overrides),
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            started.append((process, handle))
        yield [process for process, _ in started]
    finally:
        for process, handle in started:
            _stop(process)
            handle.close()


# --- staff sessions over HTTP ---------------------------------------------------------------

_CREATE_KEY = re.compile(r'name="create_key" type="hidden" value="([^"]+)"')


def staff_login(base: str, username: str, password: str) -> requests.Session:
    """A browser-like session signed in through the real login form (no MFA roles only).

    Each request asks for its own connection (``Connection: close``). With hundreds of client
    threads in one process, a thread can stall longer than gunicorn's keep-alive (5 s) between
    two requests, and its next request then races the server closing the idle connection: the
    request is lost with no response ("Remote end closed connection"). A browser retries such
    a request on a new connection; a fresh connection per request removes the race instead, so
    a connection closed without a response here is always the server's fault."""
    browser = requests.Session()
    browser.headers["Connection"] = "close"
    page = browser.get(base + "/login", timeout=30)
    answer = browser.post(
        base + "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    return browser


def console_form(browser: requests.Session, base: str) -> tuple[str, str]:
    """(csrf token, fresh create_key) from the agent console."""
    page = browser.get(base + "/agent/", timeout=30)
    assert page.status_code == 200, page.status_code
    return csrf_from(page.text), _CREATE_KEY.search(page.text).group(1)


# --- many browsers at once -------------------------------------------------------------------


def run_clients(client: Callable[[int], None], count: int, deadline_seconds: float) -> None:
    """Run ``client(0)`` .. ``client(count - 1)``, each on its own thread, and wait for them all;
    AssertionError if any is still running ``deadline_seconds`` after the start."""
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline_seconds - (time.monotonic() - started)))
    assert not any(thread.is_alive() for thread in threads), "clients did not finish in time"


def start_race(
    servers: list[str],
    path: str,
    clients: int,
    deadline_seconds: float,
    request_timeout: float,
    new_browser: Callable[[], requests.Session] = requests.Session,
) -> list[tuple[int, str]]:
    """``clients`` browsers (``new_browser()`` each, with its own cookies), read the customer
    landing page at ``path`` from one server (for the CSRF token), then, all released together,
    press Start on another (the same one, given one). Returns each browser's (status, body);
    AssertionError if any browser failed."""
    barrier = threading.Barrier(clients, timeout=deadline_seconds)
    results: list = [None] * clients

    def customer(index: int) -> None:
        read_from = servers[index % len(servers)]
        post_to = servers[(index + 1) % len(servers)]
        try:
            with new_browser() as browser:
                landing = browser.get(read_from + path, timeout=request_timeout)
                assert landing.status_code == 200, landing.status_code
                token = csrf_from(landing.text)
                barrier.wait()
                answer = browser.post(
                    post_to + path + "/start",
                    data={"csrf_token": token},
                    allow_redirects=False,
                    timeout=request_timeout,
                )
                results[index] = (answer.status_code, answer.text)
        except BaseException as problem:  # noqa: BLE001 - reported below, per client
            results[index] = problem
            barrier.abort()

    run_clients(customer, clients, deadline_seconds)
    problems = [r for r in results if isinstance(r, BaseException)]
    assert not problems, problems[:3]
    return results


def migrate(database_url: str) -> None:
    """Build the schema with the project's migrations, as the test session does."""
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade(revision="heads")
        dispose_engines(db)


def send_signal(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    os.kill(pid, sig)


def _local_tcp_ports(pid: int) -> set[int]:
    """The local ports of the TCP sockets process ``pid`` holds open, read from /proc: the
    socket inodes among its file descriptors, matched against the kernel's TCP tables."""
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(descriptor)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                columns = line.split()
                if columns[9] in inodes:
                    ports.add(int(columns[1].rsplit(":", 1)[1], 16))
    return ports


def lock_waits_by_process(connection, pids: list[int]) -> dict[int, int]:
    """How many PostgreSQL backends are waiting on a lock for each of ``pids``: a backend belongs
    to the process whose socket's local port is the backend's ``client_port``."""
    waiting_ports = [
        port
        for (port,) in connection.execute(
            "SELECT client_port FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        ).fetchall()
    ]
    counts = {}
    for pid in pids:
        ports = _local_tcp_ports(pid)
        counts[pid] = sum(1 for port in waiting_ports if port in ports)
    return counts


def assert_audit_chain_intact(app) -> int:
    """The audit chain verifies from its first row; returns how many rows were checked."""
    from sqlalchemy import select

    from portal import audit
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
        result = audit.verify_chain(rows, audit.service.chain_key())
        assert result.ok, result.describe()
        return result.rows_checked


def create_form(csrf: str, create_key: str, reference: str, channel: str = "sms") -> dict:
    """The console's create form, filled in as an agent would."""
    return {
        "csrf_token": csrf,
        "create_key": create_key,
        "kind": "payment",
        "amount": "19.99",
        "currency": "GBP",
        "purpose": "Reliability test",
        "reference": reference,
        "identity_item": "postcode",
        "identity_value": "SW1A 1AA",
        "expiry_minutes": "15",
        "channel": channel,
        "destination": "07911 123456" if channel == "sms" else "pat@example.org",
    }


def assert_requests_whole(app, reference_prefix: str | None = None) -> int:
    """Every capture request has its created audit row and exactly one outbox message (sms or
    email ones), and no outbox message or audit row names a request that does not exist.
    With ``reference_prefix``, only the requests whose reference starts with it are checked
    for their rows (a database other tests write to as well, such as a shared stack's).
    Returns how many requests were checked."""
    from sqlalchemy import func, select

    from portal.audit.trail import trail
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.delivery import DeliveryMessage

    with app.app_context():
        every = db.session.execute(select(CaptureRequest)).scalars().all()
        requests_ = {
            row.public_id: row
            for row in every
            if reference_prefix is None or (row.reference or "").startswith(reference_prefix)
        }
        audited = trail()  # sealed or still pending (a production-like stack seals in a worker)
        created = set(
            db.session.execute(
                select(audited.c.target_id).where(audited.c.action == "capture.created")
            ).scalars()
        )
        assert created <= {row.public_id for row in every}, "an audit row for no request"
        if reference_prefix is None:
            assert created == set(requests_), "a request without its audit row"
        else:
            assert set(requests_) <= created, "a request without its audit row"
        per_request = dict(
            db.session.execute(
                select(DeliveryMessage.capture_request_id, func.count()).group_by(
                    DeliveryMessage.capture_request_id
                )
            ).all()
        )
        ids = {row.id for row in every}
        assert set(per_request) <= ids, "an outbox message for a request that does not exist"
        for row in requests_.values():
            if row.link_channel in ("sms", "email"):
                assert per_request.get(row.id) == 1, (row.public_id, per_request.get(row.id))
        return len(requests_)


# --- the faults table ------------------------------------------------------------------------

#: One row per fault test: what was done, what should come of it, what did, and how many things
#: were lost or doubled. The issue's closing note prints it.
FAULTS_TABLE = ARTIFACTS / "prodlike" / "faults.md"
_FAULTS_HEADER = "| fault | expected | observed | lost | doubled |\n|---|---|---|---|---|\n"


def start_faults_table() -> None:
    """Begin this run's table (called once per test session)."""
    FAULTS_TABLE.parent.mkdir(parents=True, exist_ok=True)
    FAULTS_TABLE.write_text(_FAULTS_HEADER)


def record_fault(fault: str, expected: str, observed: str, lost: int, doubled: int) -> None:
    """Append one row to the faults table (the header is written first if the file is new)."""
    FAULTS_TABLE.parent.mkdir(parents=True, exist_ok=True)
    cells = [text.replace("|", "/").replace("\n", " ") for text in (fault, expected, observed)]
    with FAULTS_TABLE.open("a", encoding="utf-8") as table:
        if table.tell() == 0:
            table.write(_FAULTS_HEADER)
        table.write(f"| {' | '.join(cells)} | {lost} | {doubled} |\n")
