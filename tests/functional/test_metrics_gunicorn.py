"""/metrics under gunicorn (config/gunicorn.conf.py, two workers): every scrape, whichever
worker answers it, reports the requests all workers served; the server's counter directory is
its own and goes when it stops."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.reliability.support import start_gunicorn
from tests.support.metrics import METRICS_TOKEN, bearer, samples, value

HEALTHZ = {"route": "/healthz", "method": "GET", "status": "200"}


def _healthz_count(base: str) -> float:
    answer = requests.get(base + "/metrics", headers=bearer(), timeout=10)
    assert answer.status_code == 200, answer.status_code
    return value(samples(answer.text), "postern_http_requests_total", **HEALTHZ)


def test_every_scrape_adds_up_every_worker(database_url):
    server = start_gunicorn(
        database_url, "metrics-gunicorn", overrides={"METRICS_TOKEN": METRICS_TOKEN}, threads=2
    )
    try:
        assert len(server.worker_pids()) == 2
        before = _healthz_count(server.base)
        for _ in range(40):  # a new connection each: either worker may take it
            assert requests.get(server.base + "/healthz", timeout=10).status_code == 200
        seen = {_healthz_count(server.base) for _ in range(8)}
        # The log is appended to across runs: this server's line is the last one.
        directory = re.findall(r"metrics: counters in (\S+)", server.log.read_text())[-1]
        assert Path(directory).is_dir()
    finally:
        server.stop()
    assert seen == {before + 40}
    assert not Path(directory).exists()  # removed when the server stopped
