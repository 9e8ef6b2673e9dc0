"""The data step's effect on a request's status (portal.capture.data_step), service level."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.audit import CUSTOMER
from portal.capture import data_step
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment
from portal.models.types import utcnow
from portal.personal_data import service as data_service
from tests.support.capture import capture_request_row

CLEANED = {"email": "someone@example.co.uk", "phone": "020 7946 0958"}


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def make(app, agent, *, kind="data", status="verified", paid=False, expired=False) -> int:
    now = utcnow()
    with app.app_context():
        row = capture_request_row(
            agent.id,
            kind=kind,
            now=now,
            expires_in=timedelta(minutes=-1 if expired else 15),
            status=status,
            field_set="contact",
        )
        db.session.add(row)
        db.session.flush()
        if paid:
            db.session.add(
                Payment(
                    capture_request_id=row.id,
                    amount_minor=1250,
                    currency="GBP",
                    status="succeeded",
                    created_at=now,
                    updated_at=now,
                )
            )
        db.session.commit()
        return row.id


@pytest.mark.parametrize(
    ("kind", "status", "paid", "state", "then"),
    [
        ("data", "verified", False, "open", "done"),
        ("both", "verified", False, "open", "payment"),
        ("both", "in_progress", True, "open", "done"),
        ("both", "in_progress", False, "pay_first", "done"),
        ("data", "opened", False, "closed", "done"),
        ("data", "revoked", False, "closed", "done"),
        ("payment", "verified", False, "closed", "done"),
    ],
)
def test_state_of(app, agent, kind, status, paid, state, then):
    request_id = make(app, agent, kind=kind, status=status, paid=paid)
    with app.app_context():
        step = data_step.state_of(db.session.get(CaptureRequest, request_id))
    assert (step.state, step.then) == (state, then)


@pytest.mark.parametrize(
    ("kind", "paid", "action", "status", "then"),
    [
        ("data", False, "send", "succeeded", "done"),
        ("data", False, "decline", "declined", "done"),
        ("both", False, "send", "verified", "payment"),
        ("both", False, "decline", "declined", "done"),
        ("both", True, "send", "succeeded", "done"),
        ("both", True, "decline", "succeeded", "done"),
    ],
)
def test_a_decision_moves_the_request(app, agent, kind, paid, action, status, then):
    request_id = make(
        app, agent, kind=kind, status="in_progress" if paid else "verified", paid=paid
    )
    with app.app_context():
        request = db.session.get(CaptureRequest, request_id)
        if action == "send":
            step = data_step.send(request, CLEANED, "2026-11", CUSTOMER)
        else:
            step = data_step.decline(request, "2026-11", CUSTOMER)
        db.session.commit()
        assert (request.status, step.then) == (status, then)
        assert data_step.state_of(request).state == ("sent" if action == "send" else "declined")


def test_an_expired_request_takes_no_decision(app, agent):
    request_id = make(app, agent, expired=True)
    with app.app_context():
        request = db.session.get(CaptureRequest, request_id)
        for decide in (
            lambda: data_step.send(request, CLEANED, "2026-11", CUSTOMER),
            lambda: data_step.decline(request, "2026-11", CUSTOMER),
        ):
            with pytest.raises(data_step.StepClosed):
                decide()
            db.session.rollback()
        assert data_service.submission_for(request) is None


def test_a_second_decision_is_refused(app, agent):
    request_id = make(app, agent, kind="both")
    with app.app_context():
        request = db.session.get(CaptureRequest, request_id)
        data_step.send(request, CLEANED, "2026-11", CUSTOMER)
        db.session.commit()
        with pytest.raises(data_step.StepClosed):
            data_step.decline(request, "2026-11", CUSTOMER)
