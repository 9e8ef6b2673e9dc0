"""The identity check on the customer's link: answers, lock-out, audit, rate limit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.capture import (
    answer_identity,
    count_audit,
    create_direct,
    load,
    path_of,
    press_start,
)
from tests.support.web import csrf_from, login


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def _audit_rows(app, public_id, action):
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.target_id == public_id, AuditEvent.action == action)
        ).scalars()
        return [(row.outcome, dict(row.details)) for row in rows]


def test_readback_code_and_question_after_start(app, client, agent):
    public_id, url = create_direct(
        app, agent.id, identity_item="date_of_birth", identity_value="31/03/1980"
    )
    press_start(client, url)
    page = client.get(path_of(url) + "/check").get_data(as_text=True)
    row = load(app, public_id)
    assert f"{row.readback_code[:3]} {row.readback_code[3:]}" in page
    assert "What is your date of birth?" in page
    assert "12.50" not in page and "ACC-1001" not in page and "Gas bill" not in page


@pytest.mark.parametrize(
    ("item", "stored", "typed"),
    [
        ("postcode", "SW1A 1AA", "sw1a1aa"),
        ("date_of_birth", "31/03/1980", "1980-03-31"),
        ("date_of_birth", "1980-03-31", "31.3.1980"),
        ("surname", "O'Brien-Smith", "obrien smith"),
        ("surname", "Brontë", "BRONTE"),
    ],
)
def test_equivalent_answers_verify(app, client, agent, item, stored, typed):
    public_id, url = create_direct(app, agent.id, identity_item=item, identity_value=stored)
    press_start(client, url)
    response = answer_identity(client, url, typed)
    assert response.status_code == 303, response.get_data(as_text=True)[-800:]
    assert load(app, public_id).status == "verified"
    [(outcome, details)] = _audit_rows(app, public_id, "capture.identity_attempt")
    assert outcome == "success" and details == {"item": item, "result": "correct"}


def test_wrong_answers_count_down_then_lock(app, client, agent):
    public_id, url = create_direct(app, agent.id)
    press_start(client, url)
    for attempt in range(1, 5):
        response = answer_identity(client, url, "AB1 2CD")
        assert response.status_code == 400
        remaining = 5 - attempt
        tries = "1 more try" if remaining == 1 else f"{remaining} more tries"
        assert tries in response.get_data(as_text=True)
        assert load(app, public_id).identity_failures == attempt
    response = answer_identity(client, url, "AB1 2CD")
    assert response.status_code == 423
    assert "This link is locked" in response.get_data(as_text=True)
    row = load(app, public_id)
    assert row.status == "locked" and row.status_reason == "identity_failed"
    # The right answer no longer helps, and every page of the link now says locked.
    response = client.get(path_of(url))
    assert response.status_code == 423
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        path_of(url) + "/check", data={"answer": "SW1A 1AA", "csrf_token": token}
    )
    assert response.status_code == 423
    assert load(app, public_id).status == "locked"
    attempts = _audit_rows(app, public_id, "capture.identity_attempt")
    assert [details["failures"] for _outcome, details in attempts] == [1, 2, 3, 4, 5]
    assert all(outcome == "failure" for outcome, _ in attempts)
    assert count_audit(app, "capture.locked", public_id) == 1


def test_audit_never_holds_the_answer(app, client, agent):
    public_id, url = create_direct(app, agent.id)
    press_start(client, url)
    answer_identity(client, url, "ZZ9 9ZZ")
    answer_identity(client, url, "SW1A 1AA")
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = db.session.execute(select(AuditEvent)).scalars().all()
        text = " ".join(repr(r.details) for r in rows).upper()
    assert "ZZ9" not in text and "SW1A" not in text  # (a public id, ABC-DEF-GHI, could hold ZZ9)


def test_agent_sees_the_lock(app, agent):
    public_id, url = create_direct(app, agent.id)
    customer = app.test_client()
    press_start(customer, url)
    agent_client = app.test_client()
    login(agent_client, agent)
    for _ in range(5):
        answer_identity(customer, url, "AB1 2CD")
    status = agent_client.get(f"/agent/api/requests/{public_id}/status").get_json()
    assert status["status"] == "locked" and status["label"] == "Locked"
    assert "Locked after too many wrong answers" in status["detail"]
    assert status["tone"] == "bad"


def test_unreadable_answers_are_explained_and_not_counted(app, client, agent):
    public_id, url = create_direct(
        app, agent.id, identity_item="date_of_birth", identity_value="31/03/1980"
    )
    press_start(client, url)
    response = answer_identity(client, url, "the thirty first")
    assert response.status_code == 400
    assert "day/month/year" in response.get_data(as_text=True)
    assert load(app, public_id).identity_failures == 0
    [(_outcome, details)] = _audit_rows(app, public_id, "capture.identity_attempt")
    assert details["result"] == "unreadable"


def test_card_number_in_an_answer_is_refused(app, client, agent):
    public_id, url = create_direct(app, agent.id, identity_item="surname", identity_value="Smith")
    press_start(client, url)
    response = answer_identity(client, url, "4111 1111 1111 1111")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This looks like a card number" in page and "4111" not in page
    assert load(app, public_id).identity_failures == 0


def test_answers_only_from_the_bound_browser(app, agent):
    public_id, url = create_direct(app, agent.id)
    owner, other = app.test_client(), app.test_client()
    press_start(owner, url)
    # A valid session token (the landing page's Start token is the link's, not the session's).
    token = csrf_from(other.get("/login").get_data(as_text=True))
    response = other.post(path_of(url) + "/check", data={"answer": "SW1A 1AA", "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith(path_of(url))
    assert load(app, public_id).status == "opened"


def test_identity_posts_are_rate_limited_per_request_and_ip(app_factory, make_staff):
    app = app_factory(
        RATELIMIT_IDENTITY_PER_REQUEST_IP="3 per minute", CAPTURE_IDENTITY_MAX_FAILURES=50
    )
    public_id, url = create_direct(app, make_staff("agent").id)
    client = app.test_client()
    press_start(client, url)
    statuses = [answer_identity(client, url, "AB1 2CD").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    assert load(app, public_id).identity_failures == 3
