"""Create's served rate against bare Flask, alone, in a few minutes.

    .venv/bin/python -m bench.create_ratio [--seconds 6] [--rows 10000] [--seal worker|inline]

The method of ``python -m bench`` (same gunicorn settings, wrk with bench/lua/scenario.lua, three
rounds each with fresh connections, the median round counts, each round's connection split
shown), for two scenarios only: the bare Flask JSON endpoint and the console's create, on a small
seeded database. With ``--seal worker`` (production's way) one ``flask audit seal`` process runs
beside gunicorn, as it does in production; ``inline`` seals at each commit. The run ends by
sealing what is left and running ``flask audit verify``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from contextlib import contextmanager
from urllib.parse import parse_qsl

from bench.__main__ import (
    BIN,
    ROOT,
    TMP,
    csrf_of,
    gunicorn,
    login,
    make_staff,
    recreate_database,
    setup_app,
    with_ratio,
    wrk,
)
from bench.seed import seed_requests


@contextmanager
def sealer(env: dict, wanted: bool):
    """``flask audit seal`` beside gunicorn, when sealing is the worker's."""
    if not wanted:
        yield
        return
    TMP.mkdir(parents=True, exist_ok=True)
    log = (TMP / "sealer.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "flask"), "--app", "bench.served:app", "audit", "seal"],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "bench.served:app", *args],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.create_ratio")
    parser.add_argument(
        "--database", default="postgresql+psycopg://root@127.0.0.1:5432/bench_postern_create"
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--seal", choices=("worker", "inline"), default="worker")
    args = parser.parse_args()
    url = args.database
    for database in (url, url + "_keys"):  # the key store beside it
        recreate_database(database)
    env = {
        "BENCH_DATABASE_URL": url,
        "POSTERN_LOG_LEVEL": "INFO",
        "POSTERN_AUDIT_SEAL": args.seal,
    }
    migrated = flask(env, "db", "upgrade", "heads")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    app = setup_app(url)
    staff = make_staff(app)
    seed_requests(url, args.rows, staff["agents"])
    results: dict = {"rows": args.rows, "seconds": args.seconds, "seal": args.seal}
    with gunicorn("bench.bare_app:app", {}, "bare") as (base, _sampler):
        bare = wrk(base, args.seconds, 16, path="/json")
    results["bare_flask_json"] = bare
    with (
        sealer(env, args.seal == "worker"),
        gunicorn("bench.served:app", env, "postern") as (
            base,
            sampler,
        ),
    ):
        agent = login(base, staff["agent_name"])
        cookie = "; ".join(f"{k}={v}" for k, v in agent.cookies.get_dict().items())
        csrf = csrf_of(agent.get(base + "/agent/").text)
        form = (
            f"csrf_token={csrf}&create_key={{KEY}}&kind=payment&amount=19.99&currency=GBP"
            "&purpose=Bench&reference=BENCH-1&identity_item=postcode&identity_value=SW1A+1AA"
            "&expiry_minutes=15&channel=sms&destination=07911+123456"
        )
        made = agent.post(
            base + "/agent/requests",
            data=dict(parse_qsl(form.replace("{KEY}", "k" * 22))),
            allow_redirects=False,
        )
        assert made.status_code == 302, f"setup create answered {made.status_code}"
        sampler.reset()
        results["create_request"] = {
            **with_ratio(
                wrk(
                    base,
                    args.seconds,
                    16,
                    method="POST",
                    path="/agent/requests",
                    cookie=cookie,
                    body=form,
                    expect="302",
                ),
                bare["rps"],
            ),
            **sampler.snapshot(),
        }
    if args.seal == "worker":
        flask(env, "audit", "seal", "--once")
    verified = flask(env, "audit", "verify")
    results["audit_verify"] = {
        "exit_code": verified.returncode,
        "output": verified.stdout.strip().splitlines()[-3:],
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
