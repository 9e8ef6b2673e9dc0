"""Back-office read side at a million requests on PostgreSQL: page latency per filter, the CSV
export's throughput and memory, and the audit chain's full-walk cost.

    .venv/bin/python -m bench.backoffice_transactions postgresql://127.0.0.1:5432/bench_db

DROPS AND REBUILDS the schema of the database it is given: never point it at real data.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import create_engine, text

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STATUSES = ("sent", "opened", "succeeded", "failed", "expired", "revoked")


def _reset(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _seed(app, rows: int) -> list:
    from portal.cli import create_staff
    from portal.extensions import db
    from tests.support.backoffice_read import Req, seed

    with app.app_context():
        agents = [
            create_staff(f"agent{n}", "correct horse battery staple 42", "agent", team=f"T{n % 20}")
            for n in range(200)
        ]
        create_staff("reader", "correct horse battery staple 42", "backoffice")
        db.session.commit()
        pairs = [(a.id, a.team_id) for a in agents]

    def batch(first: int, last: int) -> list:
        return [
            Req(
                n,
                NOW - timedelta(seconds=30 * n),
                *pairs[n % len(pairs)],
                status=STATUSES[n % len(STATUSES)],
                amount_minor=100 + (n * 37) % 90_000,
                paid_after=timedelta(minutes=1) if n % 3 == 0 else None,
                card_last4=f"{n % 10_000:04d}",
            )
            for n in range(first, last)
        ]

    started = time.perf_counter()
    step = 100_000
    for first in range(1, rows + 1, step):
        seed(app, batch(first, min(first + step, rows + 1)), first_payment_id=first)
    with app.app_context(), db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("capture_requests", "payments"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    print(f"seeded {rows:,} requests in {time.perf_counter() - started:.1f} s")
    return pairs


def _page_latencies(app, pairs) -> None:
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.reporting import keyset, queries
    from portal.reporting.filters import TransactionFilter

    shapes = {
        "first page": {},
        "status=succeeded": {"status": "succeeded"},
        "agent": {"agent_id": pairs[7][0]},
        "team": {"team_id": pairs[7][1]},
        "reference": {"reference": "ref-123456"},
        "card last4": {"card_last4": "0042"},
        "amount 42.00-42.50": {"currency": "GBP", "amount_min": 4200, "amount_max": 4250},
        "one day": {"date_from": date(2026, 5, 1), "date_to": date(2026, 5, 1)},
    }
    with app.app_context():
        user = db.session.query(StaffUser).filter_by(username="reader").one()
        for name, filters in shapes.items():
            flt = TransactionFilter(timezone="Europe/London", **filters)
            page, timings = None, []
            for _ in range(5):
                started = time.perf_counter()
                page = queries.transactions_page(user, flt, keyset.Direction(), 50, NOW)
                timings.append(time.perf_counter() - started)
            deep = None
            if page.older:
                for _ in range(20):  # 20 pages in
                    page = queries.transactions_page(
                        user, flt, keyset.Direction(after=page.older), 50, NOW
                    )
                    if not page.older:
                        break
                started = time.perf_counter()
                queries.transactions_page(user, flt, keyset.Direction(after=page.older), 50, NOW)
                deep = time.perf_counter() - started
            deep_words = f", page 22: {deep * 1000:.1f} ms" if deep is not None else ""
            print(f"  {name:22} first page: {min(timings) * 1000:6.1f} ms{deep_words}")


def _export(app) -> None:
    """Both writers over the whole table: PostgreSQL's COPY (what the export uses here) and
    csv.writer over a server-side cursor (what it uses on other databases)."""
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.reporting import export_copy, export_format, queries
    from portal.reporting.filters import TransactionFilter

    writers = {
        "COPY": lambda query, counter: export_copy.csv_chunks(
            db.session.connection(), query, NOW, counter
        ),
        "csv.writer": lambda query, counter: export_format.csv_chunks(
            queries.stream(query), counter, NOW
        ),
    }
    for name, write in writers.items():
        with app.app_context():
            user = db.session.query(StaffUser).filter_by(username="reader").one()
            query = queries.export_query(user, TransactionFilter(), NOW)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started, counter, size = time.perf_counter(), [0], 0
            for chunk in write(query, counter):
                size += len(chunk.encode() if isinstance(chunk, str) else chunk)
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            db.session.rollback()
        print(
            f"  export ({name}): {counter[0]:,} rows, {size / 2**20:.0f} MiB of CSV in "
            f"{elapsed:.1f} s ({counter[0] / elapsed:,.0f} rows/s); max RSS "
            f"{before / 1024:.0f} -> {after / 1024:.0f} MiB"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a PostgreSQL URL whose schema may be dropped")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if not args.url.startswith("postgresql"):
        parser.error("this benchmark is for PostgreSQL")

    from flask_migrate import upgrade

    from portal import create_app

    _reset(args.url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": args.url})
    with app.app_context():
        upgrade(revision="heads")
    pairs = _seed(app, args.rows)
    print("transactions list (keyset pages of 50, warm cache):")
    _page_latencies(app, pairs)
    _export(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
