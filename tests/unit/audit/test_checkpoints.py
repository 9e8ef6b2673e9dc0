"""Trimming the start of the audit chain: a sealed checkpoint lets the rest verify, and any
other deletion, edit or forged checkpoint is still detected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from portal import audit
from portal.audit import checkpoints, pending
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
        [lane] = db.session.scalars(select(AuditEvent.lane).distinct())
        assert checkpoints.lanes_trimmed() == {}
        assert checkpoints.count_due(cutoff()) == 20
        assert checkpoints.trim_batch(cutoff(), 8) == 8
        assert checkpoints.lanes_trimmed() == {lane: 8}
        assert checkpoints.trim_batch(cutoff(), 8) == 8
        assert checkpoints.trim_batch(cutoff(), 8) == 4
        assert checkpoints.trim_batch(cutoff(), 8) == 0
        assert db.session.scalar(select(func.min(AuditEvent.seq))) == 21
        [checkpoint] = db.session.execute(select(AuditCheckpoint)).scalars()
        assert (checkpoint.first_seq, checkpoint.rows_deleted) == (21, 4)
        # Every run's lanes, not only the last batch's: the older checkpoints are gone.
        assert checkpoints.lanes_trimmed() == {lane: 20}
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


def test_a_checkpoint_whose_lanes_were_changed_does_not_verify_and_stops_retention(chain):
    """Proves: how far each lane was trimmed is sealed with the checkpoint (raising it would
    hide rows deleted at a lane's start); retention refuses to go on from a checkpoint it did
    not write, rather than replace it with a genuine one carrying the forged numbers."""
    from portal.audit.maintenance import MaintenanceRefused

    with chain.app_context():
        checkpoints.trim_batch(cutoff(), 8)
        [lane] = checkpoints.lanes_trimmed()
        maintenance()
        db.session.execute(update(AuditCheckpoint).values(lanes_trimmed={str(lane): 25}))
        db.session.commit()
        result = checkpoints.verify_audit_chain()
        assert not result.ok and "not written by Postern" in result.problem
        # Numbers that are not Postern's are not trusted (nor read: they may not even be a map).
        assert checkpoints.lanes_trimmed() is None
        maintenance()
        db.session.execute(update(AuditCheckpoint).values(lanes_trimmed=["not", "a", "map"]))
        db.session.commit()
        assert checkpoints.lanes_trimmed() is None and pending.check(db.session).ok
        with pytest.raises(MaintenanceRefused, match="does not start where retention left it"):
            checkpoints.trim_batch(cutoff(), 8)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == ROWS - 8


@pytest.mark.parametrize("tampering", ["checkpoint deleted", "rows deleted by hand"])
def test_retention_stops_at_a_chain_that_does_not_start_where_it_left_it(chain, tampering):
    """Proves: retention deletes nothing from a chain whose start no genuine checkpoint names
    (its checkpoint deleted, or rows deleted by hand after it): its own new checkpoint would
    otherwise name the new start and the tampering would verify. Nothing is left half done:
    the session is rolled back and usable."""
    from portal.audit.maintenance import MaintenanceRefused

    with chain.app_context():
        checkpoints.trim_batch(cutoff(), 8)
        maintenance()
        if tampering == "checkpoint deleted":
            db.session.execute(delete(AuditCheckpoint))
        else:
            db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 9))
        db.session.commit()
        kept = db.session.scalar(select(func.count()).select_from(AuditEvent))
        with pytest.raises(MaintenanceRefused, match="does not start where retention left it"):
            checkpoints.trim_batch(cutoff(), 8)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == kept
        assert not checkpoints.verify_audit_chain().ok


def test_a_checkpoint_from_before_lanes_were_recorded_still_verifies_and_stays_so(chain):
    """Proves: a chain trimmed before the lanes were recorded (its checkpoint has none, sealed
    without) verifies as before, and later runs keep "unknown" rather than guess."""
    from portal.models.types import utcnow as now

    with chain.app_context():
        checkpoints.trim_batch(cutoff(), 8)
        checkpoint = db.session.execute(select(AuditCheckpoint)).scalar_one()
        maintenance()
        at = now()
        db.session.execute(
            update(AuditCheckpoint).values(
                lanes_trimmed=None,
                created_at=at,
                seal=checkpoints.seal_of(
                    checkpoint.first_seq, checkpoint.first_row_hash, checkpoint.rows_deleted, at
                ),
            )
        )
        db.session.commit()
        assert checkpoints.verify_audit_chain().ok
        assert checkpoints.lanes_trimmed() is None
        assert checkpoints.trim_batch(cutoff(), 8) == 8
        assert checkpoints.lanes_trimmed() is None
        assert checkpoints.verify_audit_chain().ok


def test_the_sealer_expects_a_lanes_next_row_just_above_what_retention_deleted(chain):
    """Proves: a pending row whose lane has no sealed row left (retention deleted them all) is
    sealed without complaint only if it is the lane's next number after them."""
    from types import SimpleNamespace

    from portal.audit.sealer import _gap

    with chain.app_context():
        checkpoints.trim_batch(cutoff(), 100)
        [(lane, below)] = checkpoints.lanes_trimmed().items()
        other = lane + 1

        def gap(lane: int, number: int) -> str | None:
            return _gap(db.session, SimpleNamespace(lane=lane, lane_seq=number), None)

        assert gap(lane, below + 1) is None
        assert (
            gap(lane, below + 3)
            == f"rows {below + 1}..{below + 2} of its lane are missing (deleted)"
        )
        assert gap(lane, below) == "it is a row retention deleted (copied back or inserted)"
        assert gap(other, 1) is None
        assert gap(other, 3) == "rows 1..2 of its lane are missing (deleted)"
