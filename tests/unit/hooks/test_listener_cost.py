"""The audit listener costs next to nothing when nobody listens: at most one query for the
enabled endpoints per transaction, however many audited actions it holds, and none for an
action outside the catalogue."""

from __future__ import annotations

from sqlalchemy import event

from portal.extensions import db
from tests.support.capture import create_direct
from tests.support.hooks import register


def _endpoint_queries(app, action) -> int:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if "FROM hook_endpoints" in statement:
            seen.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            action()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_one_query_per_transaction_without_endpoints(app, make_staff):
    agent = make_staff("agent")
    # Creating a request audits several rows in one transaction (created, queued, sent).
    assert _endpoint_queries(app, lambda: create_direct(app, agent.id)) == 1


def test_no_query_for_actions_outside_the_catalogue(app):
    from portal import audit

    def staff_action():
        audit.record("staff.enabled", actor=audit.CLI, target_type="staff_user", target_id=1)
        db.session.commit()

    assert _endpoint_queries(app, staff_action) == 0


def test_with_an_endpoint_events_follow_in_the_same_transaction(app_factory, make_staff):
    app = app_factory(HOOKS_ALLOWED_HOSTS=["hooks.test:9"])
    register(app, "http://hooks.test:9/in", ["request.created"])
    agent = make_staff("agent")
    assert _endpoint_queries(app, lambda: create_direct(app, agent.id)) == 1


def test_a_team_with_an_api_key_gets_events_without_any_endpoint(app, make_staff):
    from sqlalchemy import select

    from portal.models.hooks import HookDelivery, HookEvent
    from tests.support.api import make_api_key

    agent = make_staff("agent", team="North")
    outsider = make_staff("agent", team="South")
    make_api_key(app, team="North")
    # Still one query per transaction: endpoints and keyed teams come in one statement.
    assert _endpoint_queries(app, lambda: create_direct(app, agent.id)) == 1
    south_id, _ = create_direct(app, outsider.id, reference="ACC-SOUTH")
    with app.app_context():
        events = db.session.execute(select(HookEvent).order_by(HookEvent.id)).scalars().all()
        assert [e.type for e in events] == ["request.created", "request.sent"]
        assert south_id not in {e.data["request"]["id"] for e in events}
        assert db.session.execute(select(HookDelivery)).first() is None
