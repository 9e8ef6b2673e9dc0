"""Multiprocess mode: counters written by separate processes into one PROMETHEUS_MULTIPROC_DIR
are added up by whichever process answers /metrics, as under gunicorn (config/gunicorn.conf.py
gives every server start a fresh directory; its hooks are checked here too)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.support.metrics import METRICS_TOKEN, samples, value

ROOT = Path(__file__).resolve().parents[3]

#: One Postern process: builds the app, answers /healthz n times, and (given a token) prints
#: a scrape of /metrics.
CHILD = """
import json, sys
from portal import create_app
app = create_app("testing", json.loads(sys.argv[1]))
client = app.test_client()
for _ in range(int(sys.argv[2])):
    assert client.get("/healthz").status_code == 200
if len(sys.argv) > 3:
    answer = client.get("/metrics", headers={"Authorization": "Bearer " + sys.argv[3]})
    assert answer.status_code == 200, answer.status_code
    sys.stdout.write(answer.get_data(as_text=True))
"""


def _spawn(directory: Path, settings: dict, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(settings), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-3000:]
    return out


def test_two_processes_counts_are_added_up(database_url, tmp_path):
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "METRICS_TOKEN": METRICS_TOKEN}
    first, second = _spawn(tmp_path, settings, "3"), _spawn(tmp_path, settings, "5")
    _finish(first), _finish(second)
    assert len({name.split("_")[-1] for name in os.listdir(tmp_path)}) >= 2  # one file per pid

    text = _finish(_spawn(tmp_path, settings, "0", METRICS_TOKEN))

    found = samples(text)
    labels = {"route": "/healthz", "method": "GET", "status": "200"}
    assert value(found, "postern_http_requests_total", **labels) == 8
    assert (
        value(found, "postern_http_request_duration_seconds_count", route="/healthz", method="GET")
        == 8
    )
    assert value(found, "postern_metrics_database_ok") == 1  # the gauges read by the scraper


def _gunicorn_conf():
    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf", ROOT / "config" / "gunicorn.conf.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_server_start_gets_a_fresh_directory_removed_at_exit(monkeypatch, tmp_path):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("POSTERN_METRICS_DIR_BASE", str(tmp_path))
    conf, server = _gunicorn_conf(), SimpleNamespace(log=SimpleNamespace(info=lambda *a: None))
    try:
        conf.on_starting(server)
        first = os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
        conf.on_exit(server)
        conf.on_starting(server)
        second = os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
    finally:
        # on_starting sets it for the workers it is about to start: never leave it set here.
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

    assert Path(first).parent == tmp_path and first != second
    assert not Path(first).exists() and Path(second).is_dir()
    conf.on_exit(server)
    assert not Path(second).exists()


def test_a_given_directory_is_emptied_of_the_last_runs_counters(monkeypatch, tmp_path):
    stale = tmp_path / "counter_4242.db"
    stale.write_bytes(b"old")
    keep = tmp_path / "README"
    keep.write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = _gunicorn_conf()
    conf.on_starting(SimpleNamespace(log=SimpleNamespace(info=lambda *a: None)))
    assert not stale.exists() and keep.exists()
    conf.on_exit(None)
    assert tmp_path.is_dir()  # the operator's directory is left in place


def test_a_dead_workers_files_are_marked(monkeypatch, tmp_path):
    live = tmp_path / "gauge_livesum_777.db"
    live.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    _gunicorn_conf().child_exit(None, SimpleNamespace(pid=777))
    assert not live.exists()
