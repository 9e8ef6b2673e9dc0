"""Anchors of the audit chain's end: a chain cut short, continued from an earlier row, or a
hand-made anchor is told apart from a chain that simply grew or was trimmed by retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text

from portal import audit
from portal.audit import anchors, checkpoints
from portal.extensions import db
from portal.models.audit import AuditAnchor, AuditEvent
from portal.models.types import utcnow
from tests.support.audit_rows import append_audit_rows, date_back_audit_rows


def delete_rows(where) -> None:
    """Delete audit rows as someone with direct database access would (on PostgreSQL, with
    the maintenance switch as a member of the maintainer role: the test user is a superuser)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
    db.session.execute(delete(AuditEvent).where(where))
    db.session.commit()


def anchor_now() -> AuditAnchor:
    head = db.session.execute(select(func.max(AuditEvent.seq))).scalar()
    return anchors.write_anchor(head)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def test_no_anchor_yet_is_consistent(ctx):
    append_audit_rows(3)
    verdict = anchors.check_tail()
    assert verdict.ok and verdict.anchor is None


def test_a_chain_that_grew_after_its_anchor_is_consistent(ctx):
    append_audit_rows(5)
    anchor = anchor_now()
    append_audit_rows(4)
    verdict = anchors.check_tail()
    assert verdict.ok and verdict.anchor.id == anchor.id


def test_an_anchor_names_the_row_verified_not_a_newer_one(ctx):
    append_audit_rows(5)
    anchor = anchors.write_anchor(3)
    row = db.session.execute(select(AuditEvent).where(AuditEvent.seq == 3)).scalar_one()
    assert (anchor.seq, anchor.row_hash) == (3, row.row_hash)
    assert anchors.is_genuine(anchor)


def test_an_empty_chain_is_not_anchored(ctx):
    assert anchors.write_anchor(1) is None
    assert db.session.scalar(select(func.count()).select_from(AuditAnchor)) == 0


def test_deleting_the_newest_rows_is_truncation(ctx):
    append_audit_rows(10)
    anchor = anchor_now()
    delete_rows(AuditEvent.seq > 5)
    verdict = anchors.check_tail()
    assert (verdict.kind, verdict.seq, verdict.missing) == ("truncated", 10, 5)
    assert verdict.describe() == (
        "audit chain TRUNCATED: the chain ends at seq 5 but was anchored at seq 10 at "
        f"{anchors.when(anchor.anchored_at)}; 5 or more rows are missing (deleted from the end)"
    )
    # And the rows still there verify among themselves: only the anchor shows the loss.
    assert checkpoints.verify_audit_chain().ok


def test_deleting_every_row_is_truncation(ctx):
    append_audit_rows(4)
    anchor_now()
    delete_rows(AuditEvent.seq > 0)
    verdict = anchors.check_tail()
    assert verdict.kind == "truncated" and "ends at seq 0" in verdict.problem


def test_deleting_rows_and_continuing_the_chain_is_a_rewrite(ctx):
    append_audit_rows(10)
    anchor_now()
    delete_rows(AuditEvent.seq > 5)
    append_audit_rows(8)  # the app carries on from seq 5: seq 6..13, a new row at seq 10
    verdict = anchors.check_tail()
    assert verdict.kind == "rewritten" and verdict.seq == 10
    assert "rows from there on were deleted" in verdict.problem


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 4},
        {"row_hash": "0" * 64},
        {"seal": "f" * 64},
    ],
)
def test_an_anchor_whose_seal_does_not_match_is_forged(ctx, change):
    append_audit_rows(6)
    genuine = anchor_now()
    forged = AuditAnchor(
        **{
            "seq": genuine.seq,
            "row_hash": genuine.row_hash,
            "anchored_at": genuine.anchored_at + timedelta(seconds=1),
            "seal": genuine.seal,
            **change,
        }
    )
    db.session.add(forged)
    db.session.commit()
    verdict = anchors.check_tail()
    assert verdict.kind == "forged"
    assert "was not written by Postern: its seal does not match" in verdict.problem


def test_the_seal_is_not_the_chain_keys_plain_hmac(ctx):
    """A seal made with the chain key itself (as a retention checkpoint's is) does not pass:
    the anchor key is derived for anchors alone."""
    import hashlib
    import hmac

    append_audit_rows(2)
    anchor = anchor_now()
    message = f"{anchor.seq}|{anchor.row_hash}|{anchor.anchored_at.isoformat()}".encode()
    plain = hmac.new(audit.service.chain_key(), message, hashlib.sha256).hexdigest()
    assert plain != anchor.seal


def test_a_missing_anchored_row_without_a_retention_checkpoint_is_reported(ctx):
    append_audit_rows(8)
    anchors.write_anchor(5)
    delete_rows(AuditEvent.seq == 5)
    verdict = anchors.check_tail()
    assert verdict.kind == "truncated" and "the row anchored at seq 5" in verdict.problem


def test_retention_trimming_past_the_anchor_is_no_alarm_and_prunes_old_anchors(ctx):
    append_audit_rows(30)
    # Date the first 20 rows back ten years, re-hashing the chain as the trim expects.
    date_back_audit_rows(through_seq=20)
    anchors.write_anchor(10)
    newest = anchors.write_anchor(15)

    assert checkpoints.trim_batch(utcnow() - timedelta(days=7 * 365), 100) == 20
    left = db.session.execute(select(AuditAnchor)).scalars().all()
    assert [anchor.id for anchor in left] == [newest.id]  # older ones named rows now gone
    verdict = anchors.check_tail()
    assert verdict.ok, verdict.describe()
    assert checkpoints.verify_audit_chain().ok
