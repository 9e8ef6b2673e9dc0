"""Pending audit rows and the sealer: rows written at commit without the chain's lock, checked by
their own HMAC and their lane's numbering until the sealer links them into the chain, and
``flask audit verify`` naming an unsealed row that was edited or deleted."""

from __future__ import annotations

import threading
from collections import namedtuple

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from portal import audit
from portal.audit import pending, sealer
from portal.audit.checkpoints import verify_audit_chain
from portal.audit.trail import in_order, trail
from portal.extensions import db
from portal.models.audit import AuditEvent, AuditLane, AuditPending
from tests.support.database import needs_postgres


@pytest.fixture
def worker_app(app_factory):
    """Sealing left to the worker, as in production: committed rows stay pending until
    ``sealer.run_once``."""
    return app_factory(AUDIT_SEAL="worker")


def _record(count: int, action: str = "test.event") -> None:
    for n in range(count):
        audit.record(action, target_type="thing", target_id=n, details={"n": n}, actor=audit.SYSTEM)
    db.session.commit()


def _as_maintainer() -> None:
    """What someone with direct database access does (on PostgreSQL the trigger lets only the
    maintainer role through; the test user is a superuser)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))


def _verify(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def _numbered_from_one(rows) -> bool:
    """Each lane's rows numbered 1, 2, 3 ... in the order given (on PostgreSQL a transaction
    takes whichever lane is free, so rows of successive transactions may be in different lanes)."""
    by_lane: dict[int, list[int]] = {}
    for row in rows:
        by_lane.setdefault(row.lane, []).append(row.lane_seq)
    return all(numbers == list(range(1, len(numbers) + 1)) for numbers in by_lane.values())


def _pending_rows() -> list:
    return db.session.execute(select(AuditPending).order_by(AuditPending.lane_seq)).scalars().all()


def test_committed_rows_wait_pending_and_the_sealer_links_them_in_order(worker_app):
    with worker_app.app_context():
        first = audit.record("test.first", actor=audit.SYSTEM)
        db.session.commit()
        _record(3)
        assert first.seq is None and first.lane_seq == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0
        assert pending.check(db.session()).ok
        assert sealer.run_once().claimed == 4
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
        assert [(row.seq, row.action) for row in rows] == [
            (1, "test.first"),
            (2, "test.event"),
            (3, "test.event"),
            (4, "test.event"),
        ]
        assert _numbered_from_one(rows)
        assert _pending_rows() == []
        assert sealer.run_once().claimed == 0
        assert verify_audit_chain().ok and pending.check(db.session()).ok
    code, output = _verify(worker_app)
    assert code == 0, output
    assert "pending audit rows" not in output  # nothing waits: nothing to say
    with worker_app.app_context():
        _record(2)
    code, output = _verify(worker_app)
    assert code == 0 and "pending audit rows intact: 2 waiting to be sealed" in output, output


def test_sealing_inline_gives_each_row_its_place_at_the_commit(app):
    with app.app_context():
        row = audit.record("test.inline", actor=audit.SYSTEM)
        assert row.seq is None
        db.session.commit()
        assert row.seq == 1 and audit.reference(row) == "1"
        assert _pending_rows() == []


def test_a_rolled_back_transaction_takes_its_rows_and_its_lane_numbers(worker_app):
    with worker_app.app_context():
        _record(2)
        audit.record("test.dropped", actor=audit.SYSTEM)
        db.session.rollback()
        _record(1, "test.after")
        assert _numbered_from_one(sorted(_pending_rows(), key=lambda row: row.id))
        assert pending.check(db.session()).ok
        assert sealer.run_once().claimed == 3
        assert "test.dropped" not in set(db.session.scalars(select(AuditEvent.action)))


def test_readers_of_the_trail_see_pending_rows_after_the_sealed_ones(worker_app):
    with worker_app.app_context():
        _record(2, "test.sealed")
        sealer.run_once()
        _record(2, "test.waiting")
        rows = trail()
        found = db.session.execute(select(rows).order_by(*in_order(rows))).all()
        assert [(row.seq, row.action) for row in found] == [
            (1, "test.sealed"),
            (2, "test.sealed"),
            (None, "test.waiting"),
            (None, "test.waiting"),
        ]
        assert len({row.id for row in found}) == 4  # pending ids never pass for sealed ones


def test_an_unsealed_row_that_is_edited_is_named_by_verify_and_never_sealed(worker_app):
    """Proves: editing a pending row breaks its HMAC; verify names it and exits 1, and the
    sealer leaves it pending (sealing it would give the edit a valid place in the chain) while
    it seals the genuine rows around it."""
    with worker_app.app_context():
        _record(3)
        _as_maintainer()
        db.session.execute(
            update(AuditPending).where(AuditPending.lane_seq == 2).values(details={"n": 99})
        )
        db.session.commit()
        lane = db.session.scalar(select(AuditPending.lane).limit(1))
    code, output = _verify(worker_app)
    assert code == 1
    assert f"pending row lane {lane} #2 does not match its HMAC" in output
    assert "no new anchor written" in output
    with worker_app.app_context():
        counts = sealer.run_once()
        assert (counts.claimed, counts.refused) == (2, 1)
        assert [row.lane_seq for row in _pending_rows()] == [2]
        assert verify_audit_chain().ok  # the chain itself holds only genuine rows
    code, output = _verify(worker_app)
    assert code == 1 and f"lane {lane} #2 does not match its HMAC" in output


@pytest.mark.parametrize(
    ("deleted", "message"),
    [
        (2, "rows between 1 and 3 are missing (deleted)"),
        (3, "rows 3..3 are missing (deleted)"),
        (1, "rows 1..1 are missing (deleted)"),
    ],
)
def test_an_unsealed_row_that_is_deleted_is_named_by_verify(worker_app, deleted, message):
    """Proves: a lane numbers its rows without gaps and counts them, so deleting a pending
    row, the newest and the first included, leaves a gap verify reports; and sealing the
    rest keeps the gap visible, since each sealed row carries its hashed lane number."""
    with worker_app.app_context():
        _record(3)
        lane = db.session.scalar(select(AuditPending.lane).limit(1))
        _as_maintainer()
        db.session.execute(delete(AuditPending).where(AuditPending.lane_seq == deleted))
        db.session.commit()
    code, output = _verify(worker_app)
    assert code == 1 and f"lane {lane}: {message}" in output, output
    with worker_app.app_context():
        assert sealer.run_once().claimed == 2
        assert verify_audit_chain().ok
    code, output = _verify(worker_app)
    assert code == 1 and f"lane {lane}: {message}" in output, output


def test_a_sealed_row_that_is_edited_breaks_the_chain(worker_app):
    with worker_app.app_context():
        _record(3)
        sealer.run_once()
        _as_maintainer()
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(lane_seq=7))
        db.session.commit()
    code, output = _verify(worker_app)
    assert code == 1 and "BROKEN at row seq=2" in output


def test_flask_audit_seal_once_seals_what_is_pending(worker_app):
    with worker_app.app_context():
        _record(2)
    result = worker_app.test_cli_runner().invoke(args=["audit", "seal", "--once"])
    assert result.exit_code == 0 and "sealed 2, refused 0" in result.output
    with worker_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 2


@pytest.mark.postgres
@needs_postgres("the triggers guarding audit_pending and audit_lanes")
def test_postgresql_refuses_to_edit_or_drop_an_unsealed_row_or_set_a_lane_back(worker_app):
    with worker_app.app_context():
        _record(2)
        for statement in (
            update(AuditPending).values(outcome="failure"),
            delete(AuditPending).where(AuditPending.lane_seq == 2),
            update(AuditLane).values(allocated=0),
            delete(AuditLane),
        ):
            with pytest.raises(DBAPIError):
                db.session.execute(statement)
            db.session.rollback()
        sealer.run_once()  # the sealer's own delete passes: the rows are sealed by then
        assert _pending_rows() == []


WRITERS = 8
TRANSACTIONS = 25


@pytest.mark.postgres
@needs_postgres("concurrent writers on separate connections")
def test_eight_concurrent_writers_and_the_sealer_make_one_gap_free_verifying_chain(worker_app):
    """Proves: eight threads, each committing transactions of one to three audit rows, never
    wait on one another's lock (no chain lock is taken by a writer), while the sealer runs
    beside them; once it has caught up the chain has every committed row exactly once, seq
    1..N without a gap, it verifies, and every lane is gap-free."""
    start = threading.Barrier(WRITERS + 1)
    done = threading.Event()
    failures: list[BaseException] = []
    statements: list[tuple[str, str]] = []

    def writer(number: int) -> None:
        try:
            with worker_app.app_context():
                start.wait(30)
                for n in range(TRANSACTIONS):
                    for part in range(n % 3 + 1):
                        audit.record(
                            "test.concurrent",
                            target_type="writer",
                            target_id=number,
                            details={"transaction": n, "part": part},
                            actor=audit.SYSTEM,
                        )
                    db.session.commit()
                db.session.remove()
        except BaseException as problem:  # noqa: BLE001  (reported by the main thread)
            failures.append(problem)

    def seal_until_done() -> None:
        with worker_app.app_context():
            start.wait(30)
            while not done.is_set():
                sealer.run_once()
            db.session.remove()

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append((threading.current_thread().name, statement))

    with worker_app.app_context():
        engine = db.engine
    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", remember)
    try:
        threads = [
            threading.Thread(target=writer, args=(n,), name=f"writer-{n}") for n in range(WRITERS)
        ]
        sealing = threading.Thread(target=seal_until_done, name="sealer")
        for thread in [*threads, sealing]:
            thread.start()
        for thread in threads:
            thread.join(120)
        done.set()
        sealing.join(60)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert not failures, failures
    expected = WRITERS * sum(n % 3 + 1 for n in range(TRANSACTIONS))
    with worker_app.app_context():
        while sealer.run_once().claimed:
            pass
        seqs = db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        assert seqs == list(range(1, expected + 1))
        written = db.session.execute(
            select(AuditEvent.target_id, AuditEvent.details).where(
                AuditEvent.action == "test.concurrent"
            )
        ).all()
        kinds = {
            (row.target_id, row.details["transaction"], row.details["part"]) for row in written
        }
        assert len(kinds) == expected
        assert _pending_rows() == []
        assert verify_audit_chain().ok
        assert pending.check(db.session()).ok
        lanes_used = db.session.scalar(select(func.count(func.distinct(AuditEvent.lane))))
        assert lanes_used > 1  # the writers spread over lanes instead of queueing for one
    # Only the sealer takes the advisory lock; the writers take none.
    by_writers = [statement for name, statement in statements if name.startswith("writer-")]
    assert by_writers and not [s for s in by_writers if "advisory" in s]
    assert [s for name, s in statements if name == "sealer" and "pg_advisory_xact_lock" in s]
    code, output = _verify(worker_app)
    assert code == 0, output


def test_a_request_timeline_shows_what_happened_before_it_is_sealed(worker_app, make_staff):
    """Proves: the back office's timeline of a request reads pending rows too, so what an agent
    did a moment ago shows at once, in the order it happened, and stays the same once sealed."""
    from portal.models.capture import CaptureRequest
    from portal.reporting.timeline import timeline
    from tests.support.capture import create_direct

    agent = make_staff("agent")
    public_id, _ = create_direct(worker_app, agent.id)

    def audit_lines():
        with worker_app.app_context():
            request = db.session.execute(
                select(CaptureRequest).where(CaptureRequest.public_id == public_id)
            ).scalar_one()
            return [(entry.source, entry.what) for entry in timeline(request, None, [])]

    with worker_app.app_context():
        assert _pending_rows()  # nothing sealed yet
    before = audit_lines()
    assert len([line for line in before if line[0] == "Audit trail"]) >= 2
    with worker_app.app_context():
        sealer.run_once()
        assert _pending_rows() == []
    assert audit_lines() == before


@pytest.mark.parametrize("mode", ["worker", "inline"])
def test_a_reader_of_the_trail_sees_the_rows_its_own_transaction_recorded(app_factory, mode):
    """Proves: reading the trail writes what the transaction recorded so far (as autoflush
    does), so the reader finds it; the transaction's later rows follow at the commit, and the
    lane numbering and (inline) the chain come out the same as without the early write."""
    app = app_factory(AUDIT_SEAL=mode)
    with app.app_context():
        early = audit.record("test.early", actor=audit.SYSTEM)
        rows = trail()
        assert db.session.execute(select(rows.c.action)).scalars().all() == ["test.early"]
        late = audit.record("test.late", actor=audit.SYSTEM)
        db.session.commit()
        if mode == "inline":
            assert (early.seq, late.seq) == (1, 2)
        else:
            sealer.run_once()
        assert verify_audit_chain().ok and pending.check(db.session()).ok
        sealed = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
        assert [row.action for row in sealed] == ["test.early", "test.late"]
        assert _numbered_from_one(sealed) or len({row.lane for row in sealed}) == 2


def test_rows_recorded_inside_a_savepoint_are_not_written_early(worker_app):
    with worker_app.app_context():
        audit.record("test.outer", actor=audit.SYSTEM)
        savepoint = db.session.begin_nested()
        rows = trail()  # inside the savepoint: nothing written yet
        assert db.session.execute(select(rows.c.action)).scalars().all() == []
        savepoint.rollback()
        db.session.commit()
        assert [row.action for row in _pending_rows()] == ["test.outer"]


@pytest.mark.parametrize("mode", ["worker", "inline"])
def test_a_savepoint_that_fails_at_its_release_loses_no_audit_row(app_factory, mode):
    """Proves: releasing a savepoint does not write the transaction's rows inside it, so a
    savepoint whose last flush fails (a duplicate caught and retried, as the webhook worker and
    the hooks' admin notices do) cannot take the action's audit row with it."""
    from sqlalchemy.exc import IntegrityError

    from portal.models.staff import Team

    app = app_factory(AUDIT_SEAL=mode)
    with app.app_context():
        db.session.add(Team(name="first"))
        db.session.commit()
        audit.record("test.action", actor=audit.SYSTEM)
        try:
            with db.session.begin_nested():
                db.session.add(Team(name="first"))  # the duplicate fails at the release
        except IntegrityError:
            pass
        db.session.add(Team(name="second"))
        db.session.commit()
        if mode == "worker":
            sealer.run_once()
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert actions == ["test.action"]
        assert verify_audit_chain().ok and pending.check(db.session()).ok


#: A lane as ``pending.check`` counts it, sealed and pending rows together.
Lane = namedtuple("Lane", "lane allocated low high rows distinct_rows")


@pytest.mark.parametrize(
    ("lane", "trimmed", "problems"),
    [
        (Lane(2, 7, 4, 7, 4, 4), {2: 3}, []),  # retention deleted 1..3: the rest start at 4
        (Lane(2, 7, 6, 7, 2, 2), {2: 3}, ["lane 2: rows 4..5 are missing (deleted)"]),
        (
            Lane(2, 7, 2, 7, 6, 6),
            {2: 3},
            ["lane 2: row #2 is one retention deleted (copied back or inserted)"],
        ),
        (Lane(2, 7, 6, 7, 2, 2), None, []),  # trimmed before lanes were recorded: unknown
        (Lane(2, 7, 6, 7, 2, 2), {}, ["lane 2: rows 1..5 are missing (deleted)"]),  # never
        (Lane(2, 7, 6, 7, 2, 2), {5: 9}, ["lane 2: rows 1..5 are missing (deleted)"]),
        (Lane(2, 3, None, None, 0, 0), {2: 3}, []),  # every row trimmed
        (Lane(2, 5, None, None, 0, 0), {2: 3}, ["lane 2: rows 4..5 are missing (deleted)"]),
        (Lane(2, 5, None, None, 0, 0), {}, ["lane 2: rows 1..5 are missing (deleted)"]),
        (
            Lane(2, 2, None, None, 0, 0),
            {2: 3},
            ["lane 2: its count was set back below what retention deleted (3)"],
        ),
    ],
)
def test_a_lanes_kept_rows_start_just_above_what_retention_deleted(lane, trimmed, problems):
    assert pending._lane_problems(lane, trimmed) == problems


@pytest.mark.postgres
@needs_postgres("sixteen lanes: a lane retention emptied, then written to again")
def test_pending_rows_deleted_at_the_start_of_a_lane_retention_emptied_are_named(worker_app):
    """Proves: once retention has deleted a lane's sealed rows, the lane's next rows must start
    just above them; deleting the first pending row after them is reported, before and after
    the rest is sealed (the chain itself, from its checkpoint, still verifies)."""
    from datetime import timedelta

    from portal.audit.checkpoints import lanes_trimmed, trim_batch
    from portal.models.types import utcnow

    with worker_app.app_context():
        # The sixteen lanes, as migration 0026 creates them (emptied tables have none, and a
        # lone lane would take every transaction).
        db.session.execute(
            text(
                "INSERT INTO audit_lanes (lane, allocated)"
                " SELECT n, 0 FROM generate_series(0, :top) AS n"
                " ON CONFLICT (lane) DO NOTHING"
            ),
            {"top": pending.LANE_COUNT - 1},
        )
        db.session.commit()
        _record(3)
        sealer.run_once()
        emptied = db.session.scalar(select(AuditEvent.lane).where(AuditEvent.seq == 1))
        for _ in range(200):  # the newest row in another lane, so all of this one can go
            _record(1)
            sealer.run_once()
            newest = db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))
            if newest.lane != emptied:
                break
        assert newest.lane != emptied
        trim_batch(utcnow() + timedelta(days=1), newest.seq - 1)
        below = lanes_trimmed()[emptied]
        assert below >= 3
        for _ in range(200):  # a transaction that lands in the emptied lane
            _record(1)
            row = db.session.scalar(select(AuditPending).where(AuditPending.lane == emptied))
            if row is not None:
                break
        assert row is not None and row.lane_seq == below + 1
        _as_maintainer()
        db.session.execute(delete(AuditPending).where(AuditPending.id == row.id))
        db.session.commit()
    missing = f"lane {emptied}: rows {below + 1}..{below + 1} are missing (deleted)"
    code, output = _verify(worker_app)
    assert code == 1 and missing in output, output
    with worker_app.app_context():
        sealer.run_once()
        assert verify_audit_chain().ok
    code, output = _verify(worker_app)
    assert code == 1 and missing in output, output


@pytest.mark.postgres
@needs_postgres("READ COMMITTED: each statement of the check sees its own snapshot")
def test_a_retention_batch_committed_during_the_check_is_no_false_alarm(worker_app):
    """Proves: the lanes are read again when retention commits a batch between reading its
    checkpoint and reading the lanes (the lanes then start higher than that checkpoint says):
    no alarm, and the check gives the lanes and the checkpoint of one moment."""
    from datetime import timedelta

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from portal.audit import checkpoints
    from portal.models.types import utcnow

    with worker_app.app_context():
        _record(6)
        sealer.run_once()
        _record(1)
        sealer.run_once()
        checkpoints.trim_batch(utcnow() + timedelta(days=1), 2)
        engine = db.engine
        trimmed_meanwhile = []

        def trim_while_the_lanes_are_read(connection, cursor, statement, *_):
            if "counted" in statement and not trimmed_meanwhile:
                trimmed_meanwhile.append(True)
                with Session(engine) as other:  # another connection: retention's own
                    checkpoints._trim(other, utcnow() + timedelta(days=1), 2)

        event.listen(engine, "before_cursor_execute", trim_while_the_lanes_are_read)
        try:
            result = pending.check(db.session)
        finally:
            event.remove(engine, "before_cursor_execute", trim_while_the_lanes_are_read)
        assert trimmed_meanwhile
        assert result.ok, result.describe()
        assert max(checkpoints.lanes_trimmed().values()) == 4
