"""The agent's live panel, measured: the status poll (200 and 304) against bare Flask, and the
push service's fan-out. ``.venv/bin/python -m bench.live [--quick]``; loopback only, bounded
in time (quick: about 3 minutes; full: about 8).

- **Poll**: ``config/gunicorn.conf.py`` serving ``bench.served:app`` on a database of its own;
  wrk (``bench/lua/scenario.lua``) polls one request's status as the console does
  (``X-Postern-Background: poll``), without an ETag (every answer a 200 with the panel) and with
  the current one (every answer a 304), 3 rounds each with their connection split, beside the
  bare Flask endpoint in the same run.
- **Push fan-out**: ``config/gunicorn-push.conf.py`` (as shipped: 2 workers of 1,000 threads)
  serving the same app. For each step of a ladder of agent counts, that many agents each hold a
  stream (signed-in sessions made directly in the database), and each agent's request changes
  once every 30 s at a random moment (an UPDATE from this process, as a worker or a customer's
  page would commit it: the trigger notifies). The latency is from that commit to the panel
  event arriving on the agent's stream, read by an asyncio client in this process (on the same
  two cores as the server). A step counts as held when every stream opened, none dropped and
  every change arrived; the box "holds" the largest such step with p95 under 1 s.

Figures go to ``bench/results/live.json`` and the "Live panel" section of ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.__main__ import (
    BIN,
    RESULTS,
    ROOT,
    TMP,
    RssSampler,
    cookie_header,
    free_port,
    gunicorn,
    login,
    machine,
    make_staff,
    recreate_database,
    setup_app,
    with_ratio,
    wrk,
)

README = ROOT / "bench" / "README.md"
ACTION_EVERY_S = 30.0
P95_LIMIT_MS = 1000.0


# --- the poll ------------------------------------------------------------------------------


def run_polls(app, staff: dict, seconds: float, env: dict) -> dict:
    figures: dict = {}
    with gunicorn("bench.bare_app:app", {}, "bare-live") as (base, sampler):
        figures["bare_flask_json"] = {**wrk(base, seconds, 16, path="/json"), **sampler.snapshot()}
    ceiling = figures["bare_flask_json"]["rps"]
    with gunicorn("bench.served:app", env, "postern-live") as (base, sampler):
        agent = login(base, staff["agent_name"])
        cookie = cookie_header(agent)
        public_id = make_request(app, staff["agents"][0][0])
        path = f"/agent/api/requests/{public_id}/status"
        first = agent.get(base + path, headers={"X-Postern-Background": "poll"})
        assert first.status_code == 200, first.status_code
        etag = first.headers["ETag"]
        sampler.reset()
        figures["status_poll_200"] = {
            **with_ratio(
                wrk(
                    base, seconds, 16, path=path, cookie=cookie, header="X-Postern-Background: poll"
                ),
                ceiling,
            ),
            **sampler.snapshot(),
        }
        sampler.reset()
        # wrk's script takes one extra header: the ETag. The background marker is then absent,
        # so these polls count as activity; within SESSION_TOUCH_INTERVAL that writes nothing.
        figures["status_poll_304"] = {
            **with_ratio(
                wrk(
                    base,
                    seconds,
                    16,
                    path=path,
                    cookie=cookie,
                    header=f"If-None-Match: {etag}",
                    expect="304",
                ),
                ceiling,
            ),
            **sampler.snapshot(),
        }
    return figures


def make_request(app, agent_id: int) -> str:
    from portal.audit import Actor
    from portal.capture import service
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        agent = db.session.get(StaffUser, agent_id)
        issued = service.create_request(
            agent,
            service.RequestSpec(
                kind="payment",
                reference="LIVE-1",
                expiry_minutes=60,
                channel="copy",
                amount_minor=1999,
                currency="GBP",
                purpose="Bench",
                identity_item="postcode",
                identity_value="SW1A 1AA",
            ),
            actor=Actor.staff(agent),
        )
        db.session.commit()
        return issued.request.public_id


# --- the push fan-out ------------------------------------------------------------------------


def make_agents(app, count: int, start: int) -> list[dict]:
    """``count`` agents, each signed in (a session row and its cookie: no login form, which
    would cost a password hash each) with one request of their own."""
    from portal.extensions import db
    from portal.models.staff import StaffSession, StaffUser
    from portal.models.types import utcnow

    made = []
    with app.app_context():
        template = db.session.query(StaffUser).filter_by(username="agent0").one()
        serializer = app.session_interface.get_signing_serializer(app)
        now = utcnow()
        for n in range(start, start + count):
            user = StaffUser(
                username=f"live{n}",
                display_name=f"Live {n}",
                role="agent",
                password_hash=template.password_hash,
                mfa_enabled=True,
            )
            db.session.add(user)
            db.session.flush()
            token = secrets.token_urlsafe(32)
            db.session.add(
                StaffSession(
                    token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    user_id=user.id,
                    created_at=now,
                    last_seen_at=now,
                    authenticated_at=now,
                    mfa_verified=True,
                )
            )
            made.append({"user_id": user.id, "cookie": serializer.dumps({"sid": token})})
        db.session.commit()
    for agent in made:
        agent["public_id"] = make_request(app, agent["user_id"])
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    with psycopg.connect(url) as connection:
        for agent in made:
            agent["request_id"] = connection.execute(
                "SELECT id FROM capture_requests WHERE public_id = %s", (agent["public_id"],)
            ).fetchone()[0]
    return made


class Streams:
    """N agents' streams, read by one asyncio loop; panel arrival times by request id."""

    def __init__(self, port: int, agents: list[dict], cookie_name: str) -> None:
        self.port, self.agents, self.cookie_name = port, agents, cookie_name
        self.ready = 0
        self.failed: list[str] = []
        self.dropped = 0
        self.arrivals: dict[int, list[float]] = {}
        self.ids = {a["public_id"]: a["request_id"] for a in agents}
        self.loop = asyncio.new_event_loop()
        self.tasks: list[asyncio.Task] = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _one(self, agent: dict) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**20)
        except OSError as problem:
            self.failed.append(type(problem).__name__)
            return
        writer.write(
            (
                "GET /agent/api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Cookie: {self.cookie_name}={agent['cookie']}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            self.failed.append(status.decode(errors="replace").strip())
            writer.close()
            return
        name = None
        try:
            while True:
                line = await reader.readline()
                if not line:
                    self.dropped += 1
                    return
                text = line.decode().rstrip("\r\n")
                if text.startswith("event: "):
                    name = text[7:]
                elif text.startswith("data: ") and name == "ready":
                    self.ready += 1
                elif text.startswith("data: ") and name == "panel":
                    panel_id = re.search(r'"id":"([^"]+)"', text).group(1)
                    self.arrivals.setdefault(self.ids[panel_id], []).append(time.time())
                elif text.startswith("data: ") and name in ("ended", "resync", "unavailable"):
                    self.failed.append(f"{name}: {text[6:]}")
                    return
        except (asyncio.CancelledError, ConnectionError):
            return

    def open(self) -> None:
        self.thread.start()

        async def start_all():
            for agent in self.agents:
                self.tasks.append(asyncio.ensure_future(self._one(agent)))
                await asyncio.sleep(0.002)  # a steady ramp, as consoles open through a morning

        asyncio.run_coroutine_threadsafe(start_all(), self.loop).result()

    def close(self) -> None:
        async def cancel_all():
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def push_service(env: dict):
    port = free_port()
    TMP.mkdir(parents=True, exist_ok=True)
    log = (TMP / "push-live.log").open("w")
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-c",
            str(ROOT / "config" / "gunicorn-push.conf.py"),
            "bench.served:app",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            "POSTERN_PUSH_BIND": f"127.0.0.1:{port}",
            "PYTHONPATH": str(ROOT),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return port, process, log


@contextmanager
def running_push(env: dict):
    import requests

    port, process, log = push_service(env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the push service did not start; see {log.name}")
        yield port, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children so far (from /proc)."""
    total = 0.0
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    ticks = os.sysconf("SC_CLK_TCK")
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def fan_out_step(app, port: int, process, agents: list[dict], window_s: float) -> dict:
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    streams = Streams(port, agents, cookie_name)
    opened_at = time.monotonic()
    streams.open()
    deadline = time.monotonic() + 60
    while streams.ready + len(streams.failed) < len(agents) and time.monotonic() < deadline:
        time.sleep(0.1)
    open_s = time.monotonic() - opened_at
    sampler = RssSampler(process.pid)
    sampler.thread.start()
    cpu_before, wall_before = cpu_seconds(process.pid), time.monotonic()
    # Each agent's request changes once in the window, at a random moment (one per 30 s).
    plan = sorted((random.uniform(0, window_s), a["request_id"]) for a in agents)
    committed: dict[int, float] = {}
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        for at, request_id in plan:
            wait = began + at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            # The clock starts as the action is sent: its commit is part of the path.
            committed[request_id] = time.time()
            connection.execute(
                "UPDATE capture_requests SET updated_at = now() WHERE id = %s", (request_id,)
            )
    settle = time.monotonic() + 5
    while len(streams.arrivals) < len(committed) and time.monotonic() < settle:
        time.sleep(0.05)
    cpu = cpu_seconds(process.pid) - cpu_before
    busy_s = time.monotonic() - wall_before
    sampler.stop.set()
    latencies = sorted(
        (min(t for t in streams.arrivals[rid] if t >= sent) - sent) * 1000
        for rid, sent in committed.items()
        if any(t >= sent for t in streams.arrivals.get(rid, []))
    )
    streams.close()
    missing = len(committed) - len(latencies)
    figures = {
        "agents": len(agents),
        "streams_open": streams.ready,
        "refused": len(streams.failed),
        "refusals": sorted(set(streams.failed))[:3],
        "dropped": streams.dropped,
        "changes": len(committed),
        "missing": missing,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "open_all_s": round(open_s, 1),
        "push_cpu_share": round(cpu / busy_s / (os.cpu_count() or 1), 3),
        **sampler.snapshot(),
    }
    figures["held"] = (
        streams.ready == len(agents)
        and not streams.dropped
        and not missing
        and (figures["p95_ms"] or 1e9) < P95_LIMIT_MS
    )
    return figures


def run_fan_out(app, env: dict, ladder: list[int], window_s: float) -> dict:
    steps = []
    made = 0
    with running_push(env) as (port, process):
        agents: list[dict] = []
        for size in ladder:
            agents += make_agents(app, size - len(agents), made)
            made = len(agents)
            figures = fan_out_step(app, port, process, agents, window_s)
            print("push", figures, flush=True)
            steps.append(figures)
            if not figures["held"]:
                break
    held = [step["agents"] for step in steps if step["held"]]
    return {
        "config": "config/gunicorn-push.conf.py as shipped (2 workers x 1000 threads)",
        "action_every_s": ACTION_EVERY_S,
        "window_s": window_s,
        "steps": steps,
        "holds": max(held) if held else 0,
    }


# --- the report ------------------------------------------------------------------------------


def section(results: dict) -> str:
    polls = results["polls"]
    lines = [
        f"Run {results['when']} ({results['mode']}) on {results['machine']['nproc']} cores, "
        f"{results['machine']['cpu']}, PostgreSQL {results['machine'].get('postgresql', '?')}.",
        "",
        "| Scenario | req/s | ratio to bare | p50 ms | p95 ms | errors | rounds: req/s [connections"
        " per worker] |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, fig in polls.items():
        rounds = ", ".join(
            f"{r['rps']:.0f} [{'+'.join(map(str, r['split'])) or '?'}]" for r in fig["rounds"]
        )
        lines.append(
            f"| {name} | {fig['rps']} | {fig.get('ratio_to_bare', '')} | {fig['p50_ms']} | "
            f"{fig['p95_ms']} | {fig['errors']} | {rounds} |"
        )
    push = results["push"]
    lines += [
        "",
        f"Push fan-out ({push['config']}; each agent's request changes once every "
        f"{push['action_every_s']:.0f} s; measured over {push['window_s']:.0f} s per step): "
        f"**holds {push['holds']} agents** with p95 under {P95_LIMIT_MS:.0f} ms.",
        "",
        "| agents | streams open | refused | dropped | changes | missing | p50 ms | p95 ms | "
        "max ms | push CPU share | peak RSS of all push workers MiB | held |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for step in push["steps"]:
        lines.append(
            f"| {step['agents']} | {step['streams_open']} | {step['refused']} | "
            f"{step['dropped']} | {step['changes']} | {step['missing']} | {step['p50_ms']} | "
            f"{step['p95_ms']} | {step['max_ms']} | {step['push_cpu_share']} | "
            f"{step.get('peak_workers_rss_mib', '')} | {'yes' if step['held'] else 'no'} |"
        )
    return "\n".join(lines)


def write(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "live.json").write_text(json.dumps(results, indent=2))
    text = README.read_text()
    start, end = "<!-- live:start -->", "<!-- live:end -->"
    block = f"{start}\n{section(results)}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text += f"\n## Live panel (python -m bench.live)\n\n{block}\n"
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live")
    parser.add_argument("--quick", action="store_true", help="short rounds, a short ladder")
    parser.add_argument("--database", default="postgresql+psycopg://root@127.0.0.1:5432/bench_live")
    args = parser.parse_args()
    seconds = 4 if args.quick else 10
    ladder = [250, 500, 1000] if args.quick else [500, 1000, 1500, 2000]
    window_s = 15.0 if args.quick else ACTION_EVERY_S
    url = args.database
    recreate_database(url)
    recreate_database(url + "_keys")  # the key store: a database of its own (config.settings)
    env = {"BENCH_DATABASE_URL": url, "POSTERN_LOG_LEVEL": "INFO"}
    subprocess.run(
        [str(BIN / "flask"), "--app", "bench.served:app", "db", "upgrade", "heads"],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
    )
    app = setup_app(url)
    staff = make_staff(app)
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
    }
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        results["machine"]["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
    results["polls"] = run_polls(app, staff, seconds, env)
    print("polls", json.dumps(results["polls"]), flush=True)
    if args.quick:
        # A quick window is half the real interval: twice the real change rate per agent.
        results["note"] = "quick: each agent's request changes once in 15 s (twice the rate)"
    results["push"] = run_fan_out(app, env, ladder, window_s)
    write(results)
    print(json.dumps(results["push"], indent=2))


if __name__ == "__main__":
    main()
