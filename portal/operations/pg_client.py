"""PostgreSQL's own client programs (``pg_dump``, ``pg_restore``) and the scratch database the
restore drill restores into.

Passwords never reach a command line (``ps`` shows command lines to every user of the host):
each program gets the database URL without its password, and the password in ``PGPASSWORD``.
No message here names a password; programs' error output is passed on with the password
masked, in case a program ever echoes it.

``pg_dump`` refuses to dump a server of a newer major version than its own, and ``pg_restore``
cannot read an archive written by a newer ``pg_dump``. Both are checked before anything runs, so
the operator reads which client to install instead of a failure half-way through.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess  # nosec B404
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

# subprocess runs pg_dump and pg_restore only, never through a shell (hence the nosec above).
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
#: The drill's scratch databases: this prefix, a UTC time stamp and four random hex digits.
SCRATCH_PREFIX = "postern_drill_"
_SCRATCH_NAME = re.compile(rf"{SCRATCH_PREFIX}\d{{8}}t\d{{6}}_[0-9a-f]{{8}}")


class PostgresToolError(RuntimeError):
    """A client program is missing, too old for the server or the archive, or failed. The
    message says which and what to do; it never holds a password."""


@dataclass(frozen=True)
class Version:
    major: int
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Target:
    """How a client program reaches one database: a libpq URL without the password, and the
    environment that carries the password."""

    url: str
    env: dict[str, str]
    database: str


def target(database_url: str) -> Target:
    """``database_url`` (SQLAlchemy's form, ``postgresql+psycopg://``) for libpq's programs."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    # URL.set() ignores None: build it anew to leave the password out.
    plain = URL.create(
        "postgresql", url.username, None, url.host, url.port, url.database, url.query
    )
    return Target(plain.render_as_string(hide_password=False), env, url.database or "")


def sqlalchemy_url(database_url: str) -> str:
    """A PostgreSQL URL as the app's engines take it (psycopg 3); any other URL unchanged."""
    url = make_url(database_url)
    if url.get_backend_name() in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def with_database(database_url: str, name: str) -> str:
    """``database_url`` naming the database ``name`` instead (same server, login and options)."""
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


def program(name: str, pg_bin: str | None) -> str:
    """The absolute path of the client program ``name`` (in ``pg_bin``, else on PATH)."""
    found = shutil.which(name, path=pg_bin) if pg_bin else shutil.which(name)
    if found is None:
        where = f"in {pg_bin}" if pg_bin else "on PATH"
        raise PostgresToolError(
            f"{name} was not found {where}: install PostgreSQL's client programs "
            "(Debian: postgresql-client) or name their directory with --pg-bin"
        )
    return found


def client_version(executable: str) -> Version:
    """What ``executable --version`` says, e.g. ``pg_dump (PostgreSQL) 15.20 (Debian ...)``."""
    said = _run([executable, "--version"], os.environ.copy(), "reading its version").stdout
    return parse_version(said)


def parse_version(said: str) -> Version:
    match = _VERSION.search(said)
    if match is None:
        raise PostgresToolError(f"cannot read a PostgreSQL version from {said.strip()[:80]!r}")
    major = int(match.group(1))
    minor = match.group(2)
    return Version(major, f"{major}.{minor}" if minor is not None else str(major))


def server_version(database_url: str) -> Version:
    """The server's version, from ``server_version_num`` (160001 is 16.1; 90624 is 9.6.24)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    finally:
        engine.dispose()
    if number >= 100_000:
        major, minor = divmod(number, 10_000)
        return Version(major, f"{major}.{minor}")
    return Version(number // 10_000, f"{number // 10_000}.{number // 100 % 100}")


def check_can_dump(client: Version, server: Version) -> None:
    """pg_dump reads servers of its own major version and older ones, never newer ones."""
    if client.major < server.major:
        raise PostgresToolError(
            f"pg_dump {client} cannot dump this PostgreSQL {server} server (pg_dump must be of "
            f"the server's major version or newer): install postgresql-client-{server.major} "
            f"and name its directory with --pg-bin (Debian: /usr/lib/postgresql/{server.major}"
            "/bin), or give a dump made by a matching pg_dump with --from-dump"
        )


def dump(pg_dump: str, database_url: str, path: Path) -> None:
    """Dump the database in pg_dump's custom format (compressed; what pg_restore reads)."""
    source = target(database_url)
    _run(
        [pg_dump, "--format=custom", "--no-password", f"--file={path}", f"--dbname={source.url}"],
        source.env,
        "dumping the database",
        database_url,
    )


def check_readable(pg_restore: str, client: Version, path: Path) -> None:
    """Fail clearly unless ``pg_restore`` can read the archive at ``path`` (its table of
    contents only)."""
    try:
        _run([pg_restore, "--list", str(path)], os.environ.copy(), "reading the dump")
    except PostgresToolError as problem:
        raise PostgresToolError(
            f"pg_restore {client} cannot read {path.name}: {problem}. A dump must be in "
            "pg_dump's custom format (pg_dump -Fc), made by a pg_dump no newer than this "
            "pg_restore (name a newer client's directory with --pg-bin)"
        ) from None


def restore(pg_restore: str, database_url: str, path: Path) -> None:
    """Restore the archive into the (empty) database, owned by the login restoring it: the
    original owners and GRANTs need roles a restore server may not have."""
    into = target(database_url)
    _run(
        [
            pg_restore,
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            "--no-password",
            f"--dbname={into.url}",
            str(path),
        ],
        into.env,
        "restoring the dump",
        database_url,
    )


def create_scratch_database(server_url: str, name: str) -> str:
    """Create the empty database ``name`` on ``server_url``'s server and return its URL.
    The login needs CREATEDB."""
    _check_scratch_name(name)
    _autocommit(server_url, f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


def drop_scratch_database(server_url: str, name: str) -> None:
    """Drop a scratch database (and end any session still in it)."""
    _check_scratch_name(name)
    _autocommit(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(server_url: str, name: str) -> bool:
    engine = create_engine(server_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
    finally:
        engine.dispose()
    return found is not None


def _check_scratch_name(name: str) -> None:
    # The name goes into SQL as an identifier: only the drill's own pattern may.
    if not _SCRATCH_NAME.fullmatch(name):
        raise ValueError(f"not a restore drill scratch database name: {name!r}")


def _autocommit(server_url: str, statement: str) -> None:
    # CREATE and DROP DATABASE cannot run inside a transaction.
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def _run(
    command: list[str], env: dict[str, str], doing: str, database_url: str | None = None
) -> subprocess.CompletedProcess:
    done = subprocess.run(  # noqa: S603  (absolute program path, argument list, no shell)
        command, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        said = _without_password(_error_lines(done.stderr or done.stdout), database_url)
        name = Path(command[0]).name
        raise PostgresToolError(f"{name} failed {doing}: {said[:500] or 'no message'}")
    return done


def _error_lines(said: str) -> str:
    """The program's error lines, without the server's DETAIL, CONTEXT and "Command was"
    lines: those can quote a row's data (a COPY line), which must not reach a report."""
    quoting = ("DETAIL:", "CONTEXT:", "Command was:", "HINT:", "LINE ")
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    kept = [line for line in lines if not any(mark in line for mark in quoting)]
    errors = [line for line in kept if "error:" in line.lower()]
    return "; ".join(errors or kept[:1])


def _without_password(said: str, database_url: str | None) -> str:
    password = make_url(database_url).password if database_url else None
    return said.replace(str(password), "***") if password else said


def server_for_messages(database_url: str) -> str:
    """The server of ``database_url`` as a message may show it: host and port, no login."""
    url: URL = make_url(database_url)
    return f"{url.host or 'localhost'}:{url.port or 5432}"
