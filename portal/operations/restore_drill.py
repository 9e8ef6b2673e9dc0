"""The restore drill: prove that a backup of the database can be restored and used.

A backup nobody has restored is a hope, not a backup. The drill takes one (``pg_dump -Fc`` of
the live database, or a dump file the operator names), restores it into a scratch database
made for the purpose, and checks the copy with the running installation's own keys:

1. every table restored, with its row count, and the schema's migration revision;
2. the audit trail: ``flask audit verify``'s checks (every row from retention's checkpoint, and
   the chain's end against its newest anchor), so a dump with an edited, inserted or deleted
   audit row fails the drill;
3. a sample of captured personal data decrypts with the configured keys (nothing decrypted is
   kept or shown; only the count).

Then it drops the scratch database (unless asked to keep it) and deletes the dump it made.
``run`` never raises for a failed step: the report says what failed, and ``ok`` is False.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from config.keyring import KeyringError
from portal.models.data_keys import KEY_STORE_BIND
from portal.operations import pg_client, restored_checks
from portal.operations.pg_client import PostgresToolError
from portal.operations.report import ERASED_SINCE, KEY_LOST, DrillReport
from portal.operations.restored_checks import SampleCheck
from portal.personal_data import shredding
from portal.personal_data.values import KEY_MISSING

#: The audit row's action for a drill (``flask ops restore-drill``).
AUDIT_ACTION = "ops.restore_drill"
SQLITE_REFUSAL = (
    "the restore drill is for PostgreSQL installations: this one runs on SQLite (development "
    "only), whose database is one file; copy it to back it up (docs/operations.md)"
)


def run(
    config: Mapping[str, Any],
    *,
    scratch_server_url: str | None = None,
    from_dump: Path | None = None,
    pg_bin: str | None = None,
    sample_requests: int = 20,
    keep: bool = False,
) -> DrillReport:
    """Run the drill for the installation configured by ``config`` (the running app's).

    The scratch database is made on ``scratch_server_url``'s server (a login with CREATEDB;
    default: the installation's own database URL). ``from_dump``: restore that custom-format
    dump instead of taking one. Returns the report; never raises for a failed step.
    """
    report = DrillReport(source="pg_dump" if from_dump is None else "dump file")
    started = time.monotonic()
    database_url = config["SQLALCHEMY_DATABASE_URI"]
    server_url = pg_client.sqlalchemy_url(scratch_server_url or database_url)
    if not database_url.startswith("postgresql") or not server_url.startswith("postgresql"):
        report.fail("tools", SQLITE_REFUSAL)
        return report
    try:
        with _dump_file(report, database_url, from_dump, pg_bin) as (dump_path, pg_restore):
            _restore_and_check(
                report, config, server_url, dump_path, pg_restore, sample_requests, keep
            )
    except _StepFailed:
        pass
    report.seconds["total"] = time.monotonic() - started
    return report


class _StepFailed(Exception):
    """A step failed and said so in the report; the drill stops there."""


@contextmanager
def _step(report: DrillReport, step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    except (PostgresToolError, SQLAlchemyError, OSError, KeyringError) as problem:
        report.fail(step, _sentence(problem))
        raise _StepFailed from None
    finally:
        report.seconds[step] = report.seconds.get(step, 0) + time.monotonic() - started


def _sentence(problem: Exception) -> str:
    if isinstance(problem, SQLAlchemyError):
        # Its text may quote the statement's parameters; the first line names the error.
        original = getattr(problem, "orig", None) or problem
        return str(original).splitlines()[0][:300]
    return str(problem)


@contextmanager
def _dump_file(
    report: DrillReport, database_url: str, from_dump: Path | None, pg_bin: str | None
) -> Iterator[tuple[Path, str]]:
    """The dump to restore, and the pg_restore to restore it with. A dump made here lives in a
    private temporary directory, deleted afterwards whatever happens."""
    with _step(report, "tools"):
        pg_restore = pg_client.program("pg_restore", pg_bin)
        restore_version = pg_client.client_version(pg_restore)
        report.pg_restore_version = str(restore_version)
    if from_dump is not None:
        with _step(report, "dump"):
            report.dump_bytes = from_dump.stat().st_size
            pg_client.check_readable(pg_restore, restore_version, from_dump)
        yield from_dump, pg_restore
        return
    with _step(report, "tools"):
        pg_dump = pg_client.program("pg_dump", pg_bin)
        dump_version = pg_client.client_version(pg_dump)
        server = pg_client.server_version(database_url)
        report.pg_dump_version, report.server_version = str(dump_version), str(server)
        pg_client.check_can_dump(dump_version, server)
    # mkdtemp's directory is readable by its owner only: the dump holds the whole database.
    with tempfile.TemporaryDirectory(prefix="postern-drill-") as private:
        path = Path(private) / "postern.dump"
        with _step(report, "dump"):
            pg_client.dump(pg_dump, database_url, path)
            report.dump_bytes = path.stat().st_size
            pg_client.check_readable(pg_restore, restore_version, path)
        yield path, pg_restore


def _restore_and_check(
    report: DrillReport,
    config: Mapping[str, Any],
    server_url: str,
    dump_path: Path,
    pg_restore: str,
    sample_requests: int,
    keep: bool,
) -> None:
    name = scratch_name()
    report.scratch_server = pg_client.server_for_messages(server_url)
    with _step(report, "restore"):
        scratch_url = pg_client.create_scratch_database(server_url, name)
        report.scratch_database = name
    try:
        with _step(report, "restore"):
            pg_client.restore(pg_restore, scratch_url, dump_path)
        _check_restored(report, config, scratch_url, sample_requests)
    finally:
        if keep:
            report.scratch_kept = True
        else:
            with _step(report, "cleanup"):
                pg_client.drop_scratch_database(server_url, name)


def _check_restored(
    report: DrillReport, config: Mapping[str, Any], scratch_url: str, sample_requests: int
) -> None:
    """Point a second app, configured as the running one (same keys, same key store), at the
    restored copy, and check it there."""
    from portal import create_app  # the application factory; building an app has no I/O
    from portal.extensions import db

    restored = create_app(config["ENV_NAME"], settings_for_copy(config, scratch_url))
    with restored.app_context():
        try:
            with _step(report, "counts"):
                report.schema_revision = restored_checks.schema_revision()
                report.tables = restored_checks.row_counts()
            with _step(report, "audit"):
                report.audit = restored_checks.verify_audit()
            if not report.audit.ok:
                report.fail("audit", report.audit.messages[0])
            with _step(report, "sample"):
                sample = restored_checks.decrypt_sample(sample_requests)
        finally:
            db.session.remove()
            db.engine.dispose()  # no connection may stay open on a database about to be dropped
    # Back in the running app's context: its erasure journal says which missing keys are
    # erasures made since the copy was taken (crypto-shredding as intended) and which the key
    # store lost. The copy's own journal cannot know about erasures made after it.
    report.sample = _with_erasures_told_apart(sample)
    _judge_sample(report)


def _with_erasures_told_apart(sample: SampleCheck) -> SampleCheck:
    erased = sum(
        count
        for request_id, count in sample.key_missing_by_request.items()
        if shredding.is_journaled(request_id)
    )
    unreadable = dict(sample.unreadable)
    lost = unreadable.pop(KEY_MISSING, 0) - erased
    if erased:
        unreadable[ERASED_SINCE] = erased
    if lost:
        unreadable[KEY_LOST] = lost
    return replace(sample, unreadable=unreadable)


def _judge_sample(report: DrillReport) -> None:
    """Every sampled value must decrypt, except values whose data key is gone because the live
    erasure journal records their request as erased: erased since the copy was taken, as
    crypto-shredding intends. Any other missing key means the key store lost keys."""
    sample = report.sample
    failed = sample.values - sample.decrypted - sample.unreadable.get(ERASED_SINCE, 0)
    if failed:
        report.fail(
            "sample",
            f"{failed} of {sample.values} sampled values could not be decrypted with the "
            "configured keys and key store ("
            + ", ".join(f"{why}: {n}" for why, n in sorted(sample.unreadable.items()))
            + ")",
        )


def settings_for_copy(config: Mapping[str, Any], scratch_url: str) -> dict[str, Any]:
    """The running app's settings with the restored copy as the main database, and the same
    key store: the copy's wrapped data keys are not in it (they never are in a backup of the
    main database), and left unset the key store's place would be derived from the copy's URL.
    """
    settings = {**config, "SQLALCHEMY_DATABASE_URI": scratch_url}
    key_store = (config.get("SQLALCHEMY_BINDS") or {}).get(KEY_STORE_BIND)
    if key_store is not None:
        url = key_store.get("url") if isinstance(key_store, Mapping) else key_store
        settings["KEY_STORE_URL"] = str(url)
    return settings


def scratch_name() -> str:
    """A fresh scratch database name: prefix, UTC time, random suffix."""
    stamp = time.strftime("%Y%m%dt%H%M%S", time.gmtime())
    return f"{pg_client.SCRATCH_PREFIX}{stamp}_{secrets.token_hex(4)}"
