"""Concurrent audited transactions: how many commit per second, and how long each waits.

    .venv/bin/python -m bench.audit_writers [--processes 8] [--transactions 200] [--rows 3]

Each of ``--processes`` processes (separate interpreters, so the GIL serialises nothing) commits
``--transactions`` transactions of ``--rows`` audit rows each, as a create does, on a fresh
PostgreSQL database. Reported: transactions per second over all processes, and the median and
95th percentile of one transaction's wall time. With sealing left to the worker (production),
the sealer then links everything and ``flask audit verify``'s check runs; its time is reported
apart, since no request waits for it. Run it on each version to compare: the API it uses
(``audit.record``, commit) is the same before and after the pending table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time

from bench.__main__ import recreate_database


def _app(url: str):
    from portal import create_app

    return create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "AUDIT_SEAL": "worker"})


def _writer(url: str, transactions: int, rows: int, start, out) -> None:
    from portal import audit
    from portal.extensions import db

    app = _app(url)
    timings = []
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # connect before the clock
        db.session.commit()
        start.wait()
        for n in range(transactions):
            began = time.perf_counter()
            for part in range(rows):
                audit.record("bench.write", details={"n": n, "part": part}, actor=audit.SYSTEM)
            db.session.commit()
            timings.append(time.perf_counter() - began)
    out.put(timings)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_writers")
    parser.add_argument(
        "--database", default="postgresql+psycopg://127.0.0.1:5432/bench_audit_writers"
    )
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--transactions", type=int, default=200)
    parser.add_argument("--rows", type=int, default=3)
    args = parser.parse_args()
    for database in (args.database, args.database + "_keys"):
        recreate_database(database)
    from flask_migrate import upgrade

    app = _app(args.database)
    with app.app_context():
        upgrade(revision="heads")
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_writer, args=(args.database, args.transactions, args.rows, start, out)
        )
        for _ in range(args.processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(3)  # every process connected and waiting on ``start``
    began = time.perf_counter()
    start.set()
    timings = [t for _ in workers for t in out.get(timeout=600)]
    wall = time.perf_counter() - began
    for worker in workers:
        worker.join()
    timings.sort()
    report = {
        "processes": args.processes,
        "transactions": len(timings),
        "rows_per_transaction": args.rows,
        "transactions_per_second": round(len(timings) / wall, 1),
        "transaction_ms_p50": round(statistics.median(timings) * 1000, 2),
        "transaction_ms_p95": round(timings[int(len(timings) * 0.95)] * 1000, 2),
    }
    with app.app_context():
        try:
            from portal.audit import pending, sealer
        except ImportError:  # the version before the pending table: nothing to seal
            pending = sealer = None
        if sealer is not None:
            from portal.extensions import db

            sealed_from = time.perf_counter()
            while sealer.run_once().claimed:
                pass
            report["seal_all_seconds"] = round(time.perf_counter() - sealed_from, 2)
            report["pending_check_ok"] = pending.check(db.session()).ok
        from portal.audit.checkpoints import verify_audit_chain

        result = verify_audit_chain()
        report["chain"] = result.describe()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
