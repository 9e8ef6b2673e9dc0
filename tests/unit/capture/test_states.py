"""The state machine: the transition table's shape, and conditional UPDATEs in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.capture import states
from portal.capture.states import TERMINAL, TRANSITIONS, Status
from tests.support.capture import create_direct

S = Status
RANK = {
    S.CREATED: 0,
    S.SENT: 1,
    S.OPENED: 2,
    S.VERIFIED: 3,
    S.IN_PROGRESS: 4,
    **dict.fromkeys(TERMINAL, 5),
}


def test_every_status_is_ranked_and_reachable_except_created():
    assert set(RANK) == set(Status)
    assert set(TRANSITIONS) == set(Status) - {S.CREATED}


@pytest.mark.parametrize("target", list(TRANSITIONS))
def test_transitions_only_move_forward(target):
    for source in TRANSITIONS[target]:
        assert RANK[source] < RANK[target], f"{source} -> {target} goes backwards"


def test_terminal_states_have_no_way_out():
    for target, sources in TRANSITIONS.items():
        assert not sources & TERMINAL, f"{target} can be reached from a terminal state"
    assert all(states.is_terminal(s) for s in TERMINAL)
    assert not states.is_terminal(S.VERIFIED)


def test_payment_in_progress_cannot_expire_or_be_revoked():
    assert not states.can_transition(S.IN_PROGRESS, S.EXPIRED)
    assert not states.can_transition(S.IN_PROGRESS, S.REVOKED)
    assert states.can_transition(S.IN_PROGRESS, S.SUCCEEDED)


@pytest.fixture
def capture(app, make_staff):
    agent = make_staff("agent")
    public_id, _url = create_direct(app, agent.id)
    with app.app_context():
        from sqlalchemy import select

        from portal.extensions import db
        from portal.models.capture import CaptureRequest

        yield db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()


def test_transition_is_conditional_and_idempotent(capture):
    from portal.extensions import db

    assert capture.status == S.SENT and capture.sent_at is not None
    assert states.transition(capture, S.OPENED)
    assert capture.status == S.OPENED and capture.opened_at is not None
    first_opened = capture.opened_at
    # A duplicate event matches no row and changes nothing.
    assert not states.transition(capture, S.OPENED)
    assert capture.opened_at == first_opened
    assert states.transition(capture, S.VERIFIED)
    # A late "opened" after "verified" never moves it back.
    assert not states.transition(capture, S.OPENED)
    assert capture.status == S.VERIFIED
    assert states.transition(capture, S.REVOKED, status_reason="revoked_by_agent")
    assert capture.finished_at is not None and capture.status_reason == "revoked_by_agent"
    for target in (S.VERIFIED, S.EXPIRED, S.LOCKED, S.OPENED):
        assert not states.transition(capture, target)
    db.session.commit()
    assert capture.status == S.REVOKED


def test_extra_conditions_must_hold(capture):
    from portal.models.capture import CaptureRequest

    assert not states.transition(capture, S.OPENED, where=[CaptureRequest.identity_failures > 0])
    assert capture.status == S.SENT


def test_expiry_is_computed_on_read_and_persisted_once(capture):
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.types import utcnow

    now = utcnow()
    assert states.effective_status(capture, now) == S.SENT
    assert not states.mark_expired_if_due(capture, now)
    past = now - timedelta(seconds=1)
    db.session.execute(
        update(CaptureRequest).where(CaptureRequest.id == capture.id).values(expires_at=past)
    )
    db.session.expire(capture)
    assert capture.status == S.SENT
    assert states.effective_status(capture, now) == S.EXPIRED
    assert states.mark_expired_if_due(capture, now)
    assert capture.status == S.EXPIRED and capture.status_reason == "time_limit"
    assert not states.mark_expired_if_due(capture, now)
