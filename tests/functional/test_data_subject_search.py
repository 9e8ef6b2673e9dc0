"""A data-subject search finds every request of one person: by the email address or mobile
number their links went to, however it is typed, or by their reference in any case. The form
posts, so a contact typed there never enters a URL, and each search is audited without the
term."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.support.backoffice_write import DESTINATION, data_request
from tests.support.web import post_form

PAGE = "/backoffice/data-requests"


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def _send_by_email(app, public_id: str, address: str) -> None:
    """Give ``public_id``'s request an email message to ``address``, as the outbox stores it."""
    from portal.capture import visibility
    from portal.delivery import outbox
    from portal.extensions import db

    with app.app_context():
        capture_request = visibility.find_by_public_id(public_id)
        outbox.add_queued_message("email", "dev", address, capture_request_id=capture_request.id)
        db.session.commit()


def _find(client, term: str) -> str:
    response = post_form(client, PAGE, {"q": term})
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("typed", ["07700 900123", "+44 7700 900123", "0044 7700900123"])
def test_a_mobile_number_finds_every_request_sent_to_it(app, logged_in, agent, typed):
    first = data_request(app, agent.id, reference="ACC-1001")
    second = data_request(app, agent.id, reference="ACC-2002")  # same number, other account
    client, _ = logged_in("backoffice")

    page = _find(client, typed)

    assert "Requests found (2)" in page and first in page and second in page
    assert DESTINATION not in page  # the number is never echoed in full beyond the box


def test_an_email_address_is_found_whatever_its_capitals(app, logged_in, agent):
    emailed = data_request(app, agent.id, reference="ACC-3003")
    _send_by_email(app, emailed, "Pat.Quill@Example.org")
    data_request(app, agent.id, reference="ACC-4004")  # texted only: not this person's email
    client, _ = logged_in("backoffice")

    page = _find(client, "  pat.quill@EXAMPLE.org ")

    assert "Requests found (1)" in page and emailed in page


def test_a_reference_is_found_in_any_case(app, logged_in, agent):
    wanted = data_request(app, agent.id, reference="ACC-2002")
    client, _ = logged_in("backoffice")

    assert wanted in _find(client, "acc-2002")
    # a link to the search by reference (GET) still works
    assert wanted in client.get(PAGE, query_string={"q": "Acc-2002"}).get_data(as_text=True)


def test_nothing_found_for_a_contact_says_how_long_contacts_are_kept(app, logged_in, agent):
    data_request(app, agent.id, reference="ACC-5005")
    client, _ = logged_in("backoffice")

    page = _find(client, "07700 900999")

    assert "Requests found (0)" in page
    assert "kept for 90 days after the link is sent" in page
    assert "found by its reference or request id" in page


def test_the_search_form_posts_and_needs_its_csrf_token(app, logged_in, agent):
    data_request(app, agent.id, reference="ACC-6006")
    client, _ = logged_in("backoffice")

    page = client.get(PAGE).get_data(as_text=True)
    assert 'method="post"' in page
    assert client.post(PAGE, data={"q": "ACC-6006"}).status_code == 400  # no CSRF token


def test_each_search_is_audited_with_how_it_was_read_never_the_term(app, logged_in, agent):
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    data_request(app, agent.id, reference="ACC-7007")
    client, user = logged_in("backoffice")
    _find(client, "07700 900123")
    _find(client, "acc-7007")

    with app.app_context():
        rows = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "data_subject.searched")
                .order_by(AuditEvent.seq)
            )
            .scalars()
            .all()
        )
        assert [(row.actor_id, row.details) for row in rows] == [
            (user.id, {"read_as": "contact", "found": 1}),
            (user.id, {"read_as": "id or reference", "found": 1}),
        ]
        stored = json.dumps([row.details for row in rows])
        assert "900123" not in stored and "7007" not in stored


def test_a_contact_in_the_address_bar_is_never_searched(app, logged_in, agent):
    """Proves: ``?q=`` finds ids and references only; an email address or mobile number put in
    the URL is not searched (nor audited), so such links never get made or bookmarked."""
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    data_request(app, agent.id, reference="ACC-8008")
    client, _ = logged_in("backoffice")

    page = client.get(PAGE, query_string={"q": "07700 900123"}).get_data(as_text=True)

    assert "Requests found" not in page and "07700 900123" not in page
    with app.app_context():
        searched = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "data_subject.searched")
        ).all()
    assert searched == []
