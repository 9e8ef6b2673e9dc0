"""docs/examples/webhook_receiver.py works as the docs say: run it, register it, and the
events Postern sends arrive verified and printed; a forged one is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

from config.settings import PROJECT_ROOT
from tests.support.capture import create_direct
from tests.support.hooks import register, work
from tests.support.loopback import free_port, wait_until

EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "webhook_receiver.py"


def test_the_example_receiver_verifies_and_prints_events(app_factory, make_staff):
    port = free_port()
    app = app_factory(HOOKS_ALLOWED_HOSTS=[f"127.0.0.1:{port}"])
    _, secret = register(app, f"http://127.0.0.1:{port}/", ["request.created"])
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", str(port)],
        env={**os.environ, "WEBHOOK_SECRET": secret},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening" in process.stdout.readline()
        public_id, _ = create_direct(app, make_staff("agent").id)
        assert work(app)["succeeded"] == 1
        printed = json.loads(process.stdout.readline())
        assert printed["type"] == "request.created" and printed["request"] == public_id

        forged = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            data=b'{"id":"evt_1","type":"payment.succeeded","data":{}}',
            headers={"webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"},
        )
        try:
            urllib.request.urlopen(forged, timeout=5)  # noqa: S310  (loopback, http on purpose)
            answered = 200
        except urllib.error.HTTPError as refused:
            answered = refused.code
        assert answered == 400
        assert "refused" in wait_until(process.stdout.readline, 5, "the refusal line")
    finally:
        process.terminate()
        process.wait(timeout=5)
