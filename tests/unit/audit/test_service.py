"""audit.record: appends to the current transaction and keeps one linear, verifiable chain, with
the actor (and the client) each caller names."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from portal import audit
from portal.audit import Actor, ClientOrigin, sealer
from portal.audit.service import chain_key
from portal.extensions import db
from portal.models.audit import GENESIS_HASH, AuditEvent
from tests.support.web import login


def _rows() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def test_records_form_a_chain_that_verifies_after_a_database_round_trip(app):
    with app.app_context():
        for n in range(5):
            audit.record(
                "test.thing",
                target_type="thing",
                target_id=n,
                details={"count": n, "nested": {"b": [1, 2], "a": "x"}, "ratio": 0.5},
                actor=Actor("tester", 42, "admin"),
            )
        db.session.commit()
        rows = _rows()
        assert [row.seq for row in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
        assert rows[2].target_id == "2" and rows[2].actor_label == "tester"
        assert audit.verify_chain(rows, chain_key()).ok


def test_a_record_rolls_back_with_its_transaction(app):
    with app.app_context():
        audit.record("test.kept", actor=audit.SYSTEM)
        db.session.commit()
        audit.record("test.dropped", actor=audit.SYSTEM)
        db.session.rollback()
        audit.record("test.after", actor=audit.SYSTEM)
        db.session.commit()
        rows = _rows()
        assert [(row.seq, row.action) for row in rows] == [(1, "test.kept"), (2, "test.after")]
        assert audit.verify_chain(rows, chain_key()).ok


def test_every_row_names_the_actor_its_caller_passed_never_one_looked_up(app):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.7"}):
        with pytest.raises(TypeError):
            audit.record("test.nobody")  # no default: not the request's, not the system's
        event = audit.record("test.system", actor=audit.SYSTEM)
        db.session.commit()
        assert event.actor_label == "system" and event.actor_id is None
        assert event.ip is None and event.outcome == "success" and event.details == {}


def test_a_staff_actor_carries_the_account_and_the_client_it_acted_from(app, make_staff):
    agent = make_staff("agent")
    with app.app_context():
        origin = ClientOrigin("203.0.113.9", "UA/2")
        event = audit.record("test.staff", actor=Actor.staff(agent, origin))
        db.session.commit()
        assert (event.actor_id, event.actor_label, event.actor_role) == (
            agent.id,
            agent.username,
            "agent",
        )
        assert (event.ip, event.user_agent) == ("203.0.113.9", "UA/2")
        assert audit.SYSTEM.at(origin).origin == origin and audit.SYSTEM.origin.ip is None


def test_record_for_names_the_capture_request_by_its_public_id(app):
    with app.app_context():

        class Request:
            public_id = "cr_123"

        by_row = audit.record_for(Request(), "test.row", audit.SYSTEM, details={"n": 1})
        by_id = audit.record_for("cr_123", "test.id", audit.CUSTOMER, outcome="failure")
        db.session.commit()
        for event in (by_row, by_id):
            assert (event.target_type, event.target_id) == ("capture_request", "cr_123")
        assert by_row.details == {"n": 1} and by_row.outcome == "success"
        assert by_id.actor_label == "customer" and by_id.outcome == "failure"


def test_a_view_records_the_signed_in_staff_member_and_their_client(app, client, make_staff):
    agent = make_staff("agent")
    login(client, agent)
    client.post("/logout", data={"csrf_token": _token(client)}, headers={"User-Agent": "UA/1"})
    with app.app_context():
        (logout,) = [row for row in _rows() if row.action == "auth.logout"]
        assert logout.actor_id == agent.id and logout.actor_label == agent.username
        assert logout.actor_role == "agent" and logout.ip == "127.0.0.1"
        assert logout.user_agent == "UA/1"


def _token(client) -> str:
    from tests.support.web import csrf_from

    return csrf_from(client.get("/account").get_data(as_text=True))


def test_a_different_chain_key_fails_verification(app_factory):
    first = app_factory()
    with first.app_context():
        audit.record("test.one", actor=audit.SYSTEM)
        db.session.commit()
    other = app_factory(AUDIT_CHAIN_KEY="another-key")
    with other.app_context():
        assert not audit.verify_chain(_rows(), chain_key()).ok


def _statements_during(action) -> list[str]:
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return seen


def _starting_with(statements: list[str], prefix: str) -> list[str]:
    return [s for s in statements if s.lstrip().lower().startswith(prefix.lower())]


def test_recording_takes_no_lock_and_a_commit_writes_its_rows_in_two_statements(app):
    """Proves: recording rows sends nothing to the database (they are held until the commit);
    the commit writes a transaction's three rows with one statement taking a lane and one
    insert into the pending table, takes no lock shared by every writer when sealing is left
    to the worker, and the sealed chain links and verifies."""
    app.config["AUDIT_SEAL"] = "worker"
    with app.app_context():
        audit.record("test.before", actor=audit.SYSTEM)
        db.session.commit()
        recorded = _statements_during(
            lambda: [audit.record("test.batch", target_id=n, actor=audit.SYSTEM) for n in range(3)]
        )
        committed = _statements_during(db.session.commit)
        assert recorded == []
        lane = [s for s in committed if "audit_lanes" in s]
        inserts = _starting_with(committed, "INSERT INTO audit_pending")
        assert len(lane) == 1 and len(inserts) == 1
        assert not [s for s in committed if "advisory" in s or "audit_events" in s]
        assert sealer.run_once().claimed == 4
        rows = _rows()
        assert [row.seq for row in rows] == [1, 2, 3, 4]
        assert [row.lane_seq for row in rows] == [1, 2, 3, 4]
        assert audit.verify_chain(rows, chain_key()).ok


def test_a_rolled_back_savepoint_takes_its_rows_and_the_next_row_relinks(app):
    """Proves: when a savepoint holding audit rows rolls back, the next row in the same
    transaction links to the tail as it now stands (not to the vanished row), so the chain
    verifies; a known tail never outlives the rows it describes."""
    with app.app_context():
        audit.record("test.kept", actor=audit.SYSTEM)
        savepoint = db.session.begin_nested()
        audit.record("test.in_savepoint", actor=audit.SYSTEM)
        audit.record("test.in_savepoint", actor=audit.SYSTEM)
        savepoint.rollback()
        audit.record("test.after", actor=audit.SYSTEM)
        db.session.commit()
        rows = _rows()
        assert [(row.seq, row.action) for row in rows] == [(1, "test.kept"), (2, "test.after")]
        assert audit.verify_chain(rows, chain_key()).ok


def test_no_card_number_reaches_a_row_whatever_the_caller_passes(app):
    # Callers put ids and reason codes in details, and actors.client_origin masks the
    # User-Agent; the trail still masks both itself, since a row once written stays for good.
    origin = ClientOrigin(
        ip="192.0.2.7", user_agent="Agent/1.0 (4111\u00a01111\u00a01111\u00a01111)"
    )
    with app.app_context():
        audit.record(
            "test.thing",
            details={
                "note": "card 4111.1111.1111.1111 given",
                "nested": {"list": ["5555-5555-5555-4444", 7]},
            },
            actor=Actor("tester", 42, "admin", origin),
        )
        db.session.commit()
        (row,) = _rows()
        assert row.details == {
            "note": "card [REDACTED-PAN] given",
            "nested": {"list": ["[REDACTED-PAN]", 7]},
        }
        assert row.user_agent == "Agent/1.0 ([REDACTED-PAN])"
        assert audit.verify_chain([row], chain_key()).ok
