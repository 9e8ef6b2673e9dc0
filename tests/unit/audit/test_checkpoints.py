"""Trimming the start of the audit chain: a sealed checkpoint lets the rest verify, and any
other deletion, edit or forged checkpoint is still detected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from portal import audit
from portal.audit import checkpoints
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.retention import AuditCheckpoint
from portal.models.types import utcnow
from tests.support.audit_rows import date_back_audit_rows

ROWS = 30


@pytest.fixture
def chain(app):
    """ROWS audit rows, the first 20 of them dated ten years ago."""
    with app.app_context():
        for n in range(ROWS):
            audit.record("test.event", details={"n": n}, actor=audit.SYSTEM)
        db.session.commit()
        date_back_audit_rows(through_seq=20)
    return app


def cutoff():
    return utcnow() - timedelta(days=7 * 365)


def maintenance():
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))


def test_trimming_in_batches_leaves_a_chain_that_verifies(chain):
    with chain.app_context():
        assert checkpoints.count_due(cutoff()) == 20
        assert checkpoints.trim_batch(cutoff(), 8) == 8
        assert checkpoints.trim_batch(cutoff(), 8) == 8
        assert checkpoints.trim_batch(cutoff(), 8) == 4
        assert checkpoints.trim_batch(cutoff(), 8) == 0
        assert db.session.scalar(select(func.min(AuditEvent.seq))) == 21
        [checkpoint] = db.session.execute(select(AuditCheckpoint)).scalars()
        assert (checkpoint.first_seq, checkpoint.rows_deleted) == (21, 4)
        result = checkpoints.verify_audit_chain()
        assert result.ok and result.rows_checked == 10, result.describe()


def test_the_newest_row_is_never_deleted(app):
    with app.app_context():
        audit.record("only.event", actor=audit.SYSTEM)
        db.session.commit()
        assert checkpoints.trim_batch(utcnow() + timedelta(days=1), 100) == 0


def test_a_row_deleted_after_the_checkpoint_is_detected(chain):
    with chain.app_context():
        checkpoints.trim_batch(cutoff(), 100)
        maintenance()
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 25))
        db.session.commit()
        result = checkpoints.verify_audit_chain()
        assert not result.ok and result.first_bad_seq == 26


def test_deleting_the_first_kept_row_too_is_detected(chain):
    with chain.app_context():
        checkpoints.trim_batch(cutoff(), 100)
        maintenance()
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 21))
        db.session.commit()
        result = checkpoints.verify_audit_chain()
        assert not result.ok and "missing or changed" in result.problem


def test_a_forged_checkpoint_does_not_verify(chain):
    with chain.app_context():
        checkpoints.trim_batch(cutoff(), 100)
        maintenance()
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq <= 23))
        first = db.session.execute(select(AuditEvent).where(AuditEvent.seq == 24)).scalar_one()
        db.session.execute(
            update(AuditCheckpoint).values(first_seq=24, first_row_hash=first.row_hash)
        )
        db.session.commit()
        result = checkpoints.verify_audit_chain()
        assert not result.ok and "not written by Postern" in result.problem


def test_an_edited_row_is_still_detected(chain):
    with chain.app_context():
        checkpoints.trim_batch(cutoff(), 100)
        maintenance()
        db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == 28).values(action="test.edited")
        )
        db.session.commit()
        result = checkpoints.verify_audit_chain()
        assert not result.ok and result.first_bad_seq == 28
