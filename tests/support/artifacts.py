"""Where a test run leaves its screenshots, logs and database dumps, and the scans of them for
card numbers (run by ``pytest_sessionfinish`` in tests/conftest.py, by
tests/security/test_logs_masked.py and by tests/security/test_pan_everywhere.py).

On PostgreSQL every row a test wrote is kept for the end of the run (``keep_rows_for_scan``,
called before a test's tables are emptied, copies each row as JSON), then the database is
dumped with ``pg_dump`` and the dump is scanned like the logs, value by value: a card number
stored anywhere, by any test, fails the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

#: Screenshots and logs of the run. POSTERN_TEST_ARTIFACTS moves them, so that two runs side by
#: side (say, two checkouts sharing a machine) never truncate each other's logs.
ARTIFACTS = Path(
    os.environ.get("POSTERN_TEST_ARTIFACTS") or Path(__file__).parents[1] / "_artifacts"
)
SUITE_LOG_NAME = "suite.log"


def suite_log_path() -> Path:
    """Where this test process tees every log record (one file per xdist worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return ARTIFACTS / (f"suite-{worker}.log" if worker else SUITE_LOG_NAME)


def unmasked_card_numbers_in_logs(root: Path = ARTIFACTS) -> list[str]:
    """``file:line: <line with the number masked>`` for every line holding a card number, in
    tests/_artifacts/suite*.log, reliability/*.log, prodlike/*/*.log and dumps/*.sql."""
    found: list[str] = []
    files = [
        *sorted(root.glob("suite*.log")),
        *sorted((root / "reliability").glob("*.log")),
        *sorted((root / "prodlike").glob("*/*.log")),  # tests/prodlike: app, workers, nginx
    ]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        found.extend(card_numbers_in_text(text, path.name))
    for path in sorted((root / "dumps").glob("*.sql")):  # the PostgreSQL pass's dumps
        found.extend(card_numbers_in_dump(path.read_text(encoding="utf-8"), path.name))
    return found


#: Columns that hold machine-made values (hashes, MACs, sealed bytes, provider ids) in
#: hexadecimal: a run of digits inside one is not a number anyone typed. In a dump, hex of 32
#: characters or more with at least one letter a-f, the same behind a two-letter type prefix (a
#: Twilio message SID is ``SM`` and 32 hex digits, and about one in 20,000 holds a Luhn-valid
#: run with an issuer prefix), and bytea literals (``\x...``) are blanked before the scan.
_HEX_BLOB = re.compile(
    r"\\\\?x[0-9a-fA-F]+|(?<![0-9A-Za-z])(?:[A-Z]{2})?(?=[0-9]*[a-fA-F])[0-9a-fA-F]{32,}"
)


def card_numbers_in_text(text: str, where: str) -> list[str]:
    """``where:line: <the line, masked>`` for every line of ``text`` holding a card number in
    any spelling ``portal.card_numbers`` finds (hex hashes and bytea blanked first)."""
    from portal.card_numbers import find_pans, mask_pans

    found = []
    for number, line in enumerate(text.splitlines(), 1):
        scanned = _HEX_BLOB.sub(" ", line)
        if next(find_pans(scanned), None) is not None:
            found.append(f"{where}:{number}: {mask_pans(scanned.strip())[:300]}")
    return found


#: COPY's text format escapes (a tab, line break or backslash inside a value).
_COPY_ESCAPE = re.compile(r"\\(.)")
_COPY_UNESCAPED = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


def card_numbers_in_dump(dump: str, where: str) -> list[str]:
    """``card_numbers_in_text`` for a ``pg_dump``: each value of each row on its own. A tab
    separates a row's values (so a sequence number and a timestamp beside it are not one
    number), and escapes inside a value are undone first (a ``\\t`` typed between digit groups
    still separates them)."""
    from portal.card_numbers import mask_pans

    found = []
    for number, line in enumerate(dump.splitlines(), 1):
        for value in line.split("\t"):
            cell = _COPY_ESCAPE.sub(lambda m: _COPY_UNESCAPED.get(m.group(1), m.group(0)), value)
            for text in _json_values(cell):
                if card_numbers_in_text(text, where):
                    found.append(f"{where}:{number}: {mask_pans(_HEX_BLOB.sub(' ', text))[:300]}")
    return found


def _json_values(cell: str) -> list[str]:
    """A JSON object or array (a JSON column, a kept row) as its values, each on its own, JSON
    escapes undone; any other cell as itself."""
    if not cell.startswith(("{", "[")):
        return [cell]
    try:
        parsed = json.loads(cell)
    except ValueError:
        return [cell]
    values, stack = [], [parsed]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None:
            values.append(str(item))
    return values


def card_numbers_in_database(app) -> list[str]:
    """``table.column: <value, masked>`` for every stored text (string, text or JSON column of
    every table) that holds a card number in any spelling."""
    from sqlalchemy import JSON, String, Text, select

    from portal.card_numbers import contains_pan, mask_pans
    from portal.extensions import db

    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if not columns:
                continue
            for row in db.session.execute(select(*columns)).all():
                for column, value in zip(columns, row, strict=True):
                    text = value if isinstance(value, str) else json.dumps(value)
                    if value and contains_pan(_HEX_BLOB.sub(" ", text)):
                        found.append(f"{table.name}.{column.name}: {mask_pans(text)[:200]}")
    return found


def pg_dump(url: str) -> str:
    """The whole database at ``url`` as ``pg_dump`` writes it (data and schema, plain text)."""
    plain = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
    done = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", plain],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout


def dump_path() -> Path:
    """Where this test process keeps its database dump for the end-of-run scan."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return ARTIFACTS / "dumps" / (f"postgres-{worker}.sql" if worker else "postgres.sql")


#: Where, on PostgreSQL, a copy of every row written during the run is kept: one table of
#: (table name, row as JSON), whatever shape each table has (migration tests change shapes).
SCAN_SCHEMA = "pan_scan"
_scan_ready: set[str] = set()


def kept_rows_table() -> str:
    """The kept-rows table of this test process, quoted for SQL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f'"{SCAN_SCHEMA}"."kept_rows_{worker or "main"}"'


def keep_rows_for_scan(db) -> None:
    """Copy every row of every table into the scan schema, before a test's tables are emptied,
    so the end-of-run ``pg_dump`` holds everything any test stored (PostgreSQL only: the
    SQLite pass runs the same tests). One statement, one round trip per test."""
    from sqlalchemy import inspect, text

    if db.engine.dialect.name != "postgresql":
        return
    kept = kept_rows_table()
    if kept not in _scan_ready:
        # First use in this process: last run's copies go.
        db.session.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCAN_SCHEMA}"'))
        db.session.execute(text(f"DROP TABLE IF EXISTS {kept}"))
        db.session.execute(text(f"CREATE TABLE {kept} (table_name text, row jsonb)"))
        _scan_ready.add(kept)
    tables = inspect(db.session.connection()).get_table_names(schema="public")
    if not tables:
        return
    # Names from the database's own catalogue, quoted; nothing from input.
    rows = " UNION ALL ".join(
        f"SELECT '{name}', to_jsonb(t) FROM public.\"{name}\" AS t"  # noqa: S608
        for name in tables
    )
    db.session.execute(text(f"INSERT INTO {kept} (table_name, row) {rows}"))
    db.session.commit()
