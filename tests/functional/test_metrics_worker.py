"""A real ``flask outbox work`` process: it beats its heartbeat, and serves what it counts
(the link it delivered) on its own metrics port, behind the same token as /metrics."""

from __future__ import annotations

import requests

from portal.observability.heartbeats import newest_beats, silent_workers
from portal.observability.worker_exporter import start_worker_exporter
from tests.reliability.support import outbox_workers
from tests.support.capture import create_direct
from tests.support.loopback import free_port, wait_until
from tests.support.metrics import METRICS_TOKEN, bearer, samples, value


def _scrape(url: str, **headers):
    try:
        return requests.get(url, headers=headers, timeout=5)
    except requests.RequestException:  # not listening yet
        return None


def test_the_outbox_worker_beats_and_serves_its_counters(app, database_url, make_staff):
    create_direct(app, make_staff("agent").id, channel="sms", destination="+447700900461")
    port = free_port()
    overrides = {
        "METRICS_TOKEN": METRICS_TOKEN,
        "METRICS_WORKER_PORT": port,
        "WORKER_HEARTBEAT_SECONDS": 1,
    }
    url = f"http://127.0.0.1:{port}/metrics"
    with outbox_workers(database_url, 1, "metrics-outbox", overrides):

        def delivered():
            answer = _scrape(url, **bearer())
            found = samples(answer.text) if answer is not None else []
            return value(found, "postern_capture_funnel_total", stage="delivered") == 1

        wait_until(delivered, 30, "the worker's count of the delivered link")
        assert _scrape(url).status_code == 401
        assert _scrape(url, **bearer("wrong")).status_code == 401
        assert _scrape(url.replace("/metrics", "/"), **bearer()).status_code == 404
        with app.app_context():
            beats = {beat.name: beat for beat in newest_beats()}
            assert beats["outbox"].interval_seconds == 1
            assert silent_workers() == []


def test_no_port_or_no_token_serves_nothing(app_factory):
    assert start_worker_exporter(app_factory(METRICS_WORKER_PORT=free_port()), "w") is None
    assert start_worker_exporter(app_factory(METRICS_TOKEN=METRICS_TOKEN), "w") is None
