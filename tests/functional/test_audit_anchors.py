"""The audit chain's end is anchored: ``flask audit verify`` and ``flask audit anchor`` write
signed anchors (to their table and to the JSON log), and deleting the newest rows, continuing
the chain from an earlier row, or forging an anchor is reported by both commands and by the
back office's audit log banner."""

from __future__ import annotations

import base64
import io
import json
import logging
import re

import pytest
from sqlalchemy import func, select, text

from portal import audit
from portal.audit import anchors
from portal.extensions import db
from portal.models.audit import AuditAnchor
from portal.models.types import utcnow
from portal.observability.logging import build_handler
from tests.support.web import signed_in

TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def anchor_log():
    """The anchor logger's lines as the production JSON handler writes them."""
    stream = io.StringIO()
    handler = build_handler(json_lines=True, stream=stream)
    logger = logging.getLogger("postern.audit.anchor")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def record(app, count: int) -> None:
    with app.app_context():
        for n in range(count):
            audit.record("test.event", details={"n": n}, actor=audit.SYSTEM)
        db.session.commit()


def as_maintenance(app, statement: str, **params) -> None:
    """What someone with direct database access does: on PostgreSQL with the maintenance
    switch, as a member of the maintainer role (the suite's user is a superuser); on SQLite,
    a plain statement."""
    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
        connection.execute(text(statement), params)


def stored_anchors(app) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(select(AuditAnchor).order_by(AuditAnchor.id)).scalars()
        return [(row.seq, row.row_hash) for row in rows]


def banner(client) -> str:
    html = client.get("/backoffice/audit").get_data(as_text=True)
    found = re.search(r'<div class="notice[^"]*chain-banner".*?</div>', html, re.S)
    return " ".join(found.group(0).split())


def test_verify_anchors_the_head_in_its_table_and_the_json_log(app, cli, anchor_log):
    record(app, 5)
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    [(seq, row_hash)] = stored_anchors(app)
    assert seq == 5
    assert result.output.splitlines()[-1] == (
        f"anchored at seq 5 ({row_hash[:16]}...) at {_anchor_time(app)}"
    )
    [line] = anchor_log()
    assert line["message"] == "audit chain anchored" and line["logger"] == "postern.audit.anchor"
    with app.app_context():
        anchor = anchors.latest_anchor()
        assert line["anchor_seq"] == 5
        assert base64.b64decode(line["anchor_row_hash_b64"]).hex() == row_hash
        assert line["anchored_at"] == anchor.anchored_at.isoformat()
        assert base64.b64decode(line["anchor_seal_b64"]).hex() == anchor.seal
        assert anchors.is_genuine(anchor)
    # Nothing else: no actor, no address, no detail of any row.
    assert set(line) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "anchor_seq",
        "anchor_row_hash_b64",
        "anchored_at",
        "anchor_seal_b64",
    }


def test_a_hash_that_holds_a_card_like_digit_run_reaches_the_log_intact(app):
    """About one hex hash in 500 holds a Luhn-valid run with an issuer prefix: in hex, the
    log's redaction would mask it and spoil the external copy."""
    stream = io.StringIO()
    handler = build_handler(json_lines=True, stream=stream)
    card_like = "9f2c4111111111111111a0" + "4" * 42
    anchor = AuditAnchor(seq=7, row_hash=card_like, anchored_at=utcnow(), seal=card_like)
    logger = logging.getLogger("postern.test.anchor")
    logger.addHandler(handler)
    try:
        logger.info("audit chain anchored", extra=anchors.log_fields(anchor))
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert "REDACTED" not in stream.getvalue()
    assert base64.b64decode(line["anchor_row_hash_b64"]).hex() == card_like
    assert base64.b64decode(line["anchor_seal_b64"]).hex() == card_like


def _anchor_time(app) -> str:
    with app.app_context():
        return anchors.when(anchors.latest_anchor().anchored_at)


def test_the_cron_command_checks_new_rows_and_extends_the_anchor(app, cli, anchor_log):
    record(app, 5)
    first = cli("audit", "anchor")
    assert first.exit_code == 0 and re.fullmatch(
        rf"anchored at seq 5 \([0-9a-f]{{16}}\.\.\.\) at {TIME}", first.output.strip()
    )
    record(app, 3)
    assert cli("audit", "anchor").exit_code == 0
    assert [seq for seq, _ in stored_anchors(app)] == [5, 8]
    assert [line["anchor_seq"] for line in anchor_log()] == [5, 8]

    # A row edited since the last anchor: refused, nothing anchored.
    record(app, 2)
    as_maintenance(app, "UPDATE audit_events SET action = 'test.edited' WHERE seq = 9")
    refused = cli("audit", "anchor")
    assert refused.exit_code == 1
    assert "audit chain BROKEN at row seq=9" in refused.output
    assert "no new anchor written" in refused.output
    assert [seq for seq, _ in stored_anchors(app)] == [5, 8]


def test_the_cron_command_on_an_empty_trail_anchors_nothing(app, cli):
    result = cli("audit", "anchor")
    assert result.exit_code == 0 and "nothing to anchor" in result.output
    assert stored_anchors(app) == []


def test_deleting_the_last_five_rows_is_reported_as_truncation(app, cli, make_staff):
    record(app, 10)
    assert cli("audit", "verify").exit_code == 0  # anchors at seq 10
    client, _ = signed_in(app, make_staff, "backoffice")  # signing in appends rows 11, 12...
    assert cli("audit", "verify").exit_code == 0
    with app.app_context():
        head = anchors.latest_anchor().seq
        anchored_at = anchors.when(anchors.latest_anchor().anchored_at)
    assert f"verifies up to checkpoint {head} at" in banner(client)

    as_maintenance(app, "DELETE FROM audit_events WHERE seq > :kept", kept=head - 5)

    result = cli("audit", "verify")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[:2] == [
        f"audit chain TRUNCATED: the chain ends at seq {head - 5} but was anchored at seq "
        f"{head} at {anchored_at}; 5 or more rows are missing (deleted from the end)",
        f"the {head - 5} rows still there link up among themselves, but the chain is not intact",
    ]
    assert lines[-1] == "no new anchor written; tell your security lead (docs/audit-trail.md)"
    # The lanes' counts (portal.audit.pending) see the missing rows too.
    assert [line.split(":")[0] for line in lines[2:-1]] == ["pending audit rows DAMAGED"]
    assert cli("audit", "anchor").exit_code == 1  # cron does not paper over it either
    assert [seq for seq, _ in stored_anchors(app)] == [10, head]

    shown = banner(client)
    assert "The newest audit rows were deleted." in shown
    assert (
        f"The trail now ends at row {head - 5}, but it had already reached row {head} at " in shown
    )
    assert f"(checkpoint {head}): 5 or more rows are missing." in shown
    assert "5 or more rows are missing" in shown
    assert "verifies" not in shown


def test_deleting_rows_then_carrying_on_is_reported_as_a_rewrite(app, cli, make_staff):
    record(app, 10)
    assert cli("audit", "verify").exit_code == 0
    as_maintenance(app, "DELETE FROM audit_events WHERE seq > 5")
    record(app, 8)  # the chain now runs 1..13, from row 5 on
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert result.output.startswith(
        "audit chain REWRITTEN: the row at seq 10 is not the one anchored at "
    )
    client, _ = signed_in(app, make_staff, "auditor")
    shown = banner(client)
    assert "The end of the audit trail was replaced." in shown
    assert "Row 10 is not the row recorded at checkpoint 10" in shown


def test_a_forged_anchor_is_reported(app, cli, make_staff):
    record(app, 6)
    assert cli("audit", "verify").exit_code == 0
    # Someone with database access anchors an earlier point, to hide deleting rows 4..6.
    with app.app_context():
        db.session.add(
            AuditAnchor(
                seq=3,
                row_hash="a" * 64,
                anchored_at=anchors.latest_anchor().anchored_at,
                seal="b" * 64,
            )
        )
        db.session.commit()
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert re.match(
        rf"audit chain FORGED: the newest anchor \(seq 3, dated {TIME}\) was not written by "
        "Postern: its seal does not match",
        result.output,
    )
    client, _ = signed_in(app, make_staff, "backoffice")
    shown = banner(client)
    assert "The audit trail's newest checkpoint is forged." in shown
    assert "Checkpoint 3 (dated" in shown and "its signature does not match" in shown


def test_verify_writes_no_anchor_while_the_chain_is_broken(app, cli):
    record(app, 6)
    as_maintenance(app, "UPDATE audit_events SET action = 'test.edited' WHERE seq = 2")
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "BROKEN at row seq=2" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditAnchor)) == 0
