"""Stripe webhook ingestion alone, measured as ``python -m bench`` measures it, plus where the
CPU went, per event: Postern's gunicorn workers, the Stripe sandbox, PostgreSQL (this
database's backends) and the bench's own sending client.

    .venv/bin/python -m bench.webhooks [--payments 300] [--database URL] [--profile DIR]

Same pieces as the full bench (``prepare_webhooks`` and ``run_webhooks`` from bench/__main__.py:
16 concurrent senders, every event once plus a 10% duplicate sample, signed with the webhook
secret) against ``gunicorn -c config/gunicorn.conf.py bench.served:app`` on the sandbox.
``--payments 300`` is the quick bench's size, 1000 the full one's. ``--profile DIR`` records
py-spy profiles (``--gil``: where each process spends CPU) of the workers and the sandbox.

DROPS AND RECREATES the database it is given (default ``bench_webhooks``): never point it at
real data.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from bench.__main__ import (
    BIN,
    PASSWORD,
    ROOT,
    WEBHOOK_SECRET,
    gunicorn,
    prepare_webhooks,
    recreate_database,
    run_webhooks,
    setup_app,
)

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _postgres_backends(database: str) -> list[int]:
    """PostgreSQL's processes serving ``database`` (their title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
                found.append(int(entry.name))
    return found


def cpu_by_process_group(workers: list[int], sandbox: int, database: str) -> dict[str, float]:
    return {
        "postern_workers": sum(_cpu_seconds(pid) for pid in workers),
        "sandbox": _cpu_seconds(sandbox),
        "postgres": sum(_cpu_seconds(pid) for pid in _postgres_backends(database)),
    }


def _gunicorn_workers(port: str) -> list[int]:
    """The workers of the gunicorn serving ``port``: gunicorn processes started with that
    POSTERN_BIND whose parent is one too (the master's parent is not)."""
    bind = f"POSTERN_BIND=127.0.0.1:{port}\0".encode()
    serving = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (
                    b"gunicorn" in (entry / "cmdline").read_bytes()
                    and bind in (entry / "environ").read_bytes()
                ):
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    serving[int(entry.name)] = int(stat[1])
            except OSError:
                continue
    return sorted(pid for pid, parent in serving.items() if parent in serving)


@contextmanager
def profiled(pids: dict[str, int], directory: str | None):
    """py-spy on each named process while the block runs (nothing if ``directory`` is None)."""
    if directory is None:
        yield
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(pid),
                "--gil",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                f"{directory}/{name}.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for name, pid in pids.items()
    ]
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(2)
        for spy in spies:
            spy.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks")
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument(
        "--database", default="postgresql+psycopg://root@127.0.0.1:5432/bench_webhooks"
    )
    parser.add_argument("--profile", metavar="DIR", help="write py-spy profiles here")
    args = parser.parse_args()
    database = args.database.rsplit("/", 1)[1]
    recreate_database(args.database)
    env = {"BENCH_DATABASE_URL": args.database, "POSTERN_LOG_LEVEL": "INFO"}
    subprocess.run(
        [str(BIN / "flask"), "--app", "bench.served:app", "db", "upgrade", "heads"],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
    )
    app = setup_app(args.database)
    with app.app_context():
        from portal.cli import create_staff
        from portal.extensions import db

        agent_id = create_staff("webhook-agent", PASSWORD, "agent", team="T1").id
        db.session.commit()

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "stripe_sandbox", "--port", "0", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sandbox_url = re.search(r"(http://\S+)", sandbox.stdout.readline()).group(1)
    env["BENCH_OVERRIDES"] = json.dumps(
        {"STRIPE_API_BASE": sandbox_url, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    )
    try:
        with gunicorn("bench.served:app", env, "webhooks") as (base, sampler):
            events = prepare_webhooks(app, sandbox_url, agent_id, args.payments)
            workers = _gunicorn_workers(base.rsplit(":", 1)[1])
            pids = {f"worker{n}": pid for n, pid in enumerate(workers)}
            before = cpu_by_process_group(workers, sandbox.pid, database)
            before["bench_client"] = time.process_time()
            sampler.reset()
            with profiled({**pids, "sandbox": sandbox.pid}, args.profile):
                figures = run_webhooks(base, args.database, env, events)
            after = cpu_by_process_group(workers, sandbox.pid, database)
            after["bench_client"] = time.process_time()
            figures["cpu_ms_per_event"] = {
                group: round(1000 * (after[group] - before[group]) / figures["events"], 2)
                for group in after
            }
            figures.update(sampler.snapshot())
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
