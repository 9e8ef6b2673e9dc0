"""A private PgBouncer (Debian's /usr/sbin/pgbouncer) in transaction mode in front of a
PostgreSQL server, for the tests that run Postern through it: its own port and its own
configuration in a temporary folder, started and stopped by the test. (Not called
``test_*.py``: pytest would collect it.)

Every database name is passed on to the server (``* = host=... port=...``); users are trusted
(``auth_type = trust``), as the shared test server trusts them. The pool per database and user
is smaller than the number of clients on purpose, so that transactions really do move between
server connections.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from tests.support.loopback import free_port, wait_until

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
#: Server connections per database and user: fewer than the stack's clients.
POOL_SIZE = 6


def pgbouncer_unavailable() -> str | None:
    """Why a private PgBouncer cannot run here (None: it can)."""
    if not Path(PGBOUNCER).exists():
        return "pgbouncer is not installed (Debian: apt-get install pgbouncer)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PgBouncer refuses to run as root"
    return None


@dataclass
class PgBouncer:
    port: int
    directory: Path
    server_host: str
    server_port: int

    def url(self, database: str) -> str:
        """``database`` on the server, through PgBouncer (psycopg's URL form)."""
        return f"postgresql://127.0.0.1:{self.port}/{database}"

    def stats(self, database: str) -> dict:
        """PgBouncer's own counters for ``database`` (``SHOW STATS`` on its admin console)."""
        return self._show("STATS", database)

    def pools(self, database: str) -> dict:
        """PgBouncer's pool for ``database`` (``SHOW POOLS``): clients and server connections."""
        return self._show("POOLS", database)

    def _show(self, what: str, database: str) -> dict:
        with psycopg.connect(self.url("pgbouncer"), autocommit=True, prepare_threshold=None) as c:
            cursor = c.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description]
            for row in cursor.fetchall():
                found = dict(zip(names, row, strict=True))
                if found["database"] == database:
                    return found
        raise KeyError(database)

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _as_postgres_user() -> tuple[list[str], str]:
    """(command prefix, the user it runs as): PgBouncer refuses to run as root."""
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name
    return [shutil.which("runuser") or "runuser", "-u", "postgres", "--"], "postgres"


@contextlib.contextmanager
def pgbouncer(server_url: str) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of the server of ``server_url``; stopped and
    its folder removed afterwards."""
    server = urlsplit(server_url.replace("postgresql+psycopg://", "postgresql://"))
    directory = Path(tempfile.mkdtemp(prefix="postern-pgbouncer-"))
    bouncer = PgBouncer(free_port(), directory, server.hostname or "127.0.0.1", server.port or 5432)
    prefix, runs_as = _as_postgres_user()
    users = {pwd.getpwuid(os.geteuid()).pw_name, "postgres", runs_as}
    (directory / "users.txt").write_text("".join(f'"{user}" ""\n' for user in sorted(users)))
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={bouncer.server_host} port={bouncer.server_port}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {bouncer.port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {directory / 'users.txt'}\n"
        f"admin_users = {', '.join(sorted(users))}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {POOL_SIZE}\n"
        "max_client_conn = 400\n"
        f"logfile = {directory / 'pgbouncer.log'}\n"
        f"pidfile = {directory / 'pgbouncer.pid'}\n"
    )
    if prefix:
        uid = pwd.getpwnam(runs_as).pw_uid
        for path in (directory, *directory.iterdir()):
            os.chown(path, uid, -1)
    process = subprocess.Popen(
        [*prefix, PGBOUNCER, str(directory / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"pgbouncer exited early:\n{bouncer.log()[-2000:]}")
        try:
            url = bouncer.url("postgres")
            with psycopg.connect(url, connect_timeout=2, prepare_threshold=None):
                return True
        except psycopg.OperationalError:
            return False

    try:
        wait_until(answers, 30, "pgbouncer to accept connections", every=0.1)
        yield bouncer
    finally:
        pidfile = directory / "pgbouncer.pid"
        with contextlib.suppress(OSError, ValueError):  # PgBouncer's own pid, not runuser's
            os.kill(int(pidfile.read_text()), signal.SIGINT)  # SIGINT: shut down now
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        shutil.rmtree(directory, ignore_errors=True)
