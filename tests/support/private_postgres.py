"""A throwaway PostgreSQL cluster of its own (initdb, a free port): for tests that stop and
start a server, and for the production-like stack's key store, which production requires on a
server apart from the main database's."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.loopback import free_port


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _as_postgres() -> list[str]:
    """Prefix for running PostgreSQL's tools: they refuse to run as root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser: cannot start PostgreSQL")
    return [runuser, "-u", "postgres", "--"]


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port, for tests that stop and start it."""

    directory: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postern"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*_as_postgres(), str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._ctl(
            "start", "-w", "-t", "30", "-l", str(self.directory / "server.log"), "-o", options
        )

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast", "-w", "-t", "30")


def private_postgres_unavailable() -> str | None:
    """Why a private PostgreSQL cannot be started here (None: it can)."""
    if _pg_bin() is None:
        return "PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin)"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or _uid_of("postgres") is None):
        return "running as root, and there is no 'postgres' user to run PostgreSQL as"
    return None


def _uid_of(user: str) -> int | None:
    import pwd

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb into a temporary directory, start on a free port, create databases ``postern``
    and ``postern_keys``;
    stopped and deleted afterwards."""
    bin_dir = _pg_bin()
    directory = Path(tempfile.mkdtemp(prefix="postern-pg-"))
    if os.geteuid() == 0:
        uid = _uid_of("postgres")
        os.chown(directory, uid, uid)
    cluster = PrivatePostgres(directory, free_port(), bin_dir)
    subprocess.run(
        [
            *_as_postgres(),
            str(bin_dir / "initdb"),
            "-D",
            str(directory / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        cluster.start()
        # ``postern``, and ``postern_keys``: the key store the testing settings pair with a
        # PostgreSQL database when none is configured (config.settings.key_store_url).
        for database in ("postern", "postern_keys"):
            subprocess.run(
                [
                    str(bin_dir / "createdb"),
                    *("-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", database),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
