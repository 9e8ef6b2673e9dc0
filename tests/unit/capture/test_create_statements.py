"""Creating a request on SQLAlchemy Core where the ORM was the cost: one
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (no savepoint), the same outcomes for a duplicate
create key and a public id already taken, and the customer's mobile number parsed once."""

from __future__ import annotations

import phonenumbers
import pytest
from sqlalchemy import event, func, select

from portal.audit import Actor
from portal.capture import links, service
from portal.capture.service import DuplicateSubmission, RequestSpec
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage
from portal.models.staff import StaffUser
from tests.support.capture import create_via_console
from tests.support.web import login


@pytest.fixture
def agent(app, make_staff):
    return make_staff("agent", team="North")


def _spec(**overrides) -> RequestSpec:
    spec = {
        "kind": "payment",
        "reference": "ACC-1001",
        "expiry_minutes": 15,
        "channel": "sms",
        "destination": "07700 900123",
        "amount_minor": 1250,
        "currency": "GBP",
        "purpose": "Gas bill",
        "create_key": "key-0123456789abcdef",
    }
    return RequestSpec(**{**spec, **overrides})


def _statements_during(action) -> list[str]:
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return seen


def _create(app, agent_id: int, **overrides):
    with app.app_context():
        user = db.session.get(StaffUser, agent_id)
        issued = service.create_request(user, _spec(**overrides), actor=Actor.staff(user))
        db.session.commit()
        return issued.request.public_id


def test_a_create_is_one_insert_with_no_savepoint_and_its_row_needs_no_reload(app, agent):
    with app.app_context():
        user = db.session.get(StaffUser, agent.id)

        def create():
            issued = service.create_request(user, _spec(), actor=Actor.staff(user))
            # The new row as the INSERT returned it: no reload to know its id or public id.
            assert issued.request.id and issued.request.public_id and issued.request.reference
            db.session.commit()

        statements = _statements_during(create)
    inserts = [s for s in statements if s.startswith("INSERT INTO capture_requests")]
    assert len(inserts) == 1 and "ON CONFLICT DO NOTHING RETURNING" in inserts[0]
    assert not [s for s in statements if "SAVEPOINT" in s]
    assert not [s for s in statements if s.startswith("SELECT capture_requests")]


def test_the_same_create_key_twice_gives_the_first_request_and_creates_nothing(app, agent):
    first = _create(app, agent.id)
    with app.app_context(), pytest.raises(DuplicateSubmission) as twice:
        user = db.session.get(StaffUser, agent.id)
        service.create_request(user, _spec(reference="OTHER"), actor=Actor.staff(user))
    assert twice.value.request.public_id == first
    with app.app_context():
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(CaptureRequest)) == 1
        assert db.session.scalar(select(func.count()).select_from(DeliveryMessage)) == 1


def test_a_public_id_already_taken_is_drawn_again(app, agent, monkeypatch):
    taken = _create(app, agent.id)
    fresh = iter([taken, taken, "freshpublicid01"])
    monkeypatch.setattr(links, "new_public_id", lambda: next(fresh))
    again = _create(app, agent.id, create_key="key-fedcba9876543210")
    assert again == "freshpublicid01"
    monkeypatch.setattr(links, "new_public_id", lambda: taken)
    with pytest.raises(RuntimeError, match="three new public ids"):
        _create(app, agent.id, create_key="key-aaaaaaaaaaaaaaaa")


def test_the_console_parses_the_mobile_number_once(app, agent, monkeypatch):
    """Proves: the form normalises the number and the outbox reuses it (and its mask): one
    parse per create, where there were three (the form, the outbox, the mask)."""
    client = app.test_client()
    login(client, agent)
    parses = []
    real_parse = phonenumbers.parse
    monkeypatch.setattr(
        phonenumbers, "parse", lambda *a, **k: parses.append(a[0]) or real_parse(*a, **k)
    )
    response, _ = create_via_console(client, channel="sms", destination="07700 900123")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert parses == ["07700 900123"]
    with app.app_context():
        message = db.session.execute(select(DeliveryMessage)).scalar_one()
        assert message.destination == "+447700900123"
        assert message.destination_masked == "+44 7••• ••• 123"
