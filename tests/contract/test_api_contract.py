"""The API against its own OpenAPI document, by schemathesis: every operation, valid and
invalid data (negative testing on), every check schemathesis has. No answer may be a server
error, and every answer must conform to the document: status, content type, headers, schema.

It runs the ``schemathesis`` command as an integrator would, against the served document, on
the development server and on the production-like stack (nginx over TLS, gunicorn with
production settings, PostgreSQL, Redis rate limits). Its report is kept as a test artifact.
On the development server the per-key rate limit is lifted (the one setting this test
changes), so that some 700 cases fit in a few seconds; on the stack it stays as deployed and
schemathesis paces itself below it, with fewer cases.

One check is left to the development server: ``unsupported_method`` sends TRACE and wants the
405 to carry ``Allow``. On the stack nginx refuses TRACE itself, before any location applies
(cross-site tracing), with a bare 405 that cannot be given the header; the application's own
405s, with ``Allow``, are checked on the development server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.artifacts import ARTIFACTS
from tests.support.capture import create_direct
from tests.support.payments import live_portal

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
#: Enough to meet every operation with valid and invalid data, small enough for CI.
MAX_EXAMPLES = 15
#: On the stack: under the deployed limit of 300 calls per minute per key, in about a minute.
STACK_EXAMPLES, STACK_PACE = 4, "250/m"
RUN_SECONDS = 420


def _agent_key_and_request(app, team: str) -> tuple[str, str, str]:
    """An agent of ``team``, a key with every scope for it, and a request of theirs, so that
    the operations on one request meet a real one, not only 404s; returns their names."""
    from portal import audit
    from portal.api_keys import service
    from portal.api_keys.scopes import SCOPES
    from portal.cli import create_staff
    from portal.extensions import db
    from portal.staff.accounts import get_or_create_team
    from tests.support.staff import DEFAULT_PASSWORD

    agent = f"agent.{secrets.token_hex(3)}"
    with app.app_context():
        create_staff(agent, DEFAULT_PASSWORD, "agent", team=team)
        # The administrator accountable for the key (its refund requests are in their name).
        admin = create_staff(f"admin.{secrets.token_hex(3)}", DEFAULT_PASSWORD, "admin")
        created = service.create_key(
            "contract test",
            get_or_create_team(team),
            list(SCOPES),
            created_by=admin,
            actor=audit.CLI,
        )
        db.session.commit()
    public_id, _link = create_direct(app, staff_id(app, agent))
    return agent, created.text, public_id


def staff_id(app, username: str) -> int:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        return db.session.execute(
            select(StaffUser.id).where(StaffUser.username == username)
        ).scalar_one()


def _run(
    base_url: str, key: str, agent: str, request_id: str, name: str, *, examples: int, extra=()
):
    report = ARTIFACTS / "schemathesis" / name
    shutil.rmtree(report, ignore_errors=True)
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        str(examples),
        "--seed",
        "20261207",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(report),
        "--no-color",
    ]
    command += list(extra)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        env={**os.environ, "POSTERN_CONTRACT_AGENT": agent, "POSTERN_CONTRACT_REQUEST": request_id},
    )
    said = done.stdout + done.stderr
    (report / "output.txt").parent.mkdir(parents=True, exist_ok=True)
    (report / "output.txt").write_text(said)
    assert done.returncode == 0, said[-6000:]
    assert "Operations:       8 selected / 8 total" in said, said[-3000:]
    return said


def test_the_api_keeps_to_its_document_on_the_development_server(app_factory):
    app = app_factory(API_RATE_LIMIT="100000 per minute")
    agent, key, request_id = _agent_key_and_request(app, "Contract")
    with live_portal(app) as url:
        _run(url, key, agent, request_id, "dev", examples=MAX_EXAMPLES)


@pytest.mark.prodlike
def test_the_api_keeps_to_its_document_as_deployed(prodlike):
    agent, key, request_id = _agent_key_and_request(
        prodlike.app(), f"Contract {secrets.token_hex(2)}"
    )
    tls = (
        *("--tls-verify", str(prodlike.certificates.ca_file), "--rate-limit", STACK_PACE),
        *("--exclude-checks", "unsupported_method"),
    )
    _run(prodlike.url, key, agent, request_id, "prodlike", examples=STACK_EXAMPLES, extra=tls)
