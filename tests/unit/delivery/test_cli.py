"""``flask outbox``: run-once and status in process; ``work`` as a real process stopped by
SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from portal.audit import SYSTEM
from portal.delivery import outbox
from portal.extensions import db
from portal.models.delivery import DeliveryMessage
from tests.support.capture import make_capture_request

ROOT = Path(__file__).resolve().parents[3]


def _queue(app, staff_id):
    with app.app_context():
        request, url = make_capture_request(staff_id)
        message = outbox.queue_link_message(request, url, "sms", "07911 123456", SYSTEM)
        db.session.commit()
        return message.id


def test_run_once_and_status(app, make_staff):
    agent = make_staff("agent")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["outbox", "status"]).output == "the outbox is empty\n"
    _queue(app, agent.id)
    assert "sms    queued     1" in runner.invoke(args=["outbox", "status"]).output
    result = runner.invoke(args=["outbox", "run-once"])
    assert result.exit_code == 0
    assert result.output.strip() == "claimed 1, sent 1, retrying 0, failed 0, cancelled 0"
    assert "sms    sent       1" in runner.invoke(args=["outbox", "status"]).output


def test_work_sends_until_sigterm_then_stops_cleanly(app, make_staff, database_url):
    agent = make_staff("agent")
    message_id = _queue(app, agent.id)
    env = {**os.environ, "POSTERN_ENV": "testing", "TEST_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "work", "--poll", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            with app.app_context():
                status = db.session.get(DeliveryMessage, message_id).status
                db.session.remove()
            if status == "sent":
                break
            time.sleep(0.1)
        assert status == "sent"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "SIGTERM received, stopping" in output and "outbox worker: stopped" in output
    assert "07911" not in output and "+447911123456" not in output
