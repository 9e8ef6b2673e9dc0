"""``python -m stripe_sandbox``: announces its real URL, serves, and stays on loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_sandbox(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stripe_sandbox", "--quiet", *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_port_zero_prints_the_real_url_and_serves():
    process = run_sandbox(
        "--port", "0", "--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "whsec_cli"
    )
    try:
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"stripe-sandbox listening on (http://127\.0\.0\.1:(\d+))", line)
        assert match, line
        assert int(match.group(2)) > 0
        url = match.group(1)
        assert "window.Stripe" in requests.get(f"{url}/v3/", timeout=5).text
        endpoint = requests.get(f"{url}/_sandbox/webhook_endpoint", timeout=5).json()
        assert endpoint == {"url": "http://127.0.0.1:9/hook"}
        answer = requests.post(
            f"{url}/v1/payment_intents",
            timeout=5,
            auth=("sk_test_postern_sandbox", ""),
            data={"amount": "1000", "currency": "gbp"},
        )
        assert answer.json()["status"] == "requires_payment_method"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_refuses_a_non_loopback_host():
    process = run_sandbox("--host", "0.0.0.0", "--port", "0")  # noqa: S104 - must be refused
    _, errors = process.communicate(timeout=20)
    assert process.returncode == 2
    assert "not a loopback address" in errors
