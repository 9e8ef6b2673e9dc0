"""Captured personal data in the back office: masked by default, one field revealed at a time
with a reason (required, no card numbers), only after the officer confirmed it is them
(password and a fresh code, as for a refund), audited, shown once and never logged; auditors
see which fields arrived but never a value."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.support.backoffice_write import ADDRESS, audit_rows, data_request, reauth, tamper_with
from tests.support.logs import logged_text
from tests.support.web import csrf_from, post_form


@pytest.fixture
def public_id(app, make_staff):
    return data_request(app, make_staff("agent").id)


@pytest.fixture
def officer(logged_in):
    """A back-office officer, signed in and re-authenticated: (client, user)."""
    client, user = logged_in("backoffice")
    assert reauth(client, user).status_code == 303
    return client, user


def data_page(public_id: str) -> str:
    return f"/backoffice/requests/{public_id}/data"


def reveal(client, public_id, field="address_line1", reason="Customer asked to confirm it"):
    return post_form(
        client,
        data_page(public_id) + "/reveal",
        {"field": field, "reason": reason},
        page=data_page(public_id),
    )


def test_values_are_masked_by_default(app, logged_in, public_id):
    client, _ = logged_in("backoffice")

    page = client.get(data_page(public_id))

    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Received" in text and "Reveal one value" in text
    assert all(value not in text for value in ADDRESS.values() if value)
    assert audit_rows(app, "data.revealed") == []


def test_one_field_is_revealed_with_a_reason_and_audited(app, officer, public_id):
    client, user = officer

    response = reveal(client, public_id, field="town", reason="Customer asked us to confirm it")

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ADDRESS["town"] in text
    assert ADDRESS["address_line1"] not in text and ADDRESS["postcode"] not in text
    assert response.headers["Cache-Control"] == "no-store"
    [row] = audit_rows(app, "data.revealed")
    assert row.actor_id == user.id and row.target_id == public_id
    assert row.details == {"reason": "Customer asked us to confirm it", "fields": ["town"]}
    # Shown once: reloading the page shows the masked view again.
    assert ADDRESS["town"] not in client.get(data_page(public_id)).get_data(as_text=True)


def test_a_reveal_without_a_reason_is_refused(app, officer, public_id):
    client, _ = officer

    response = reveal(client, public_id, reason="   ")

    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Give a reason" in text and 'role="alert"' in text
    assert ADDRESS["address_line1"] not in text
    assert audit_rows(app, "data.revealed") == []


def test_a_reason_holding_a_card_number_is_refused_and_not_echoed(app, officer, public_id):
    client, _ = officer

    response = reveal(client, public_id, reason="card 4111 1111 1111 1111 on file")

    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "looks like a card number" in text
    assert "4111 1111 1111 1111" not in text
    assert audit_rows(app, "data.revealed") == []


def test_a_field_that_is_not_offered_cannot_be_revealed(app, officer, public_id):
    client, _ = officer

    response = reveal(client, public_id, field="address_line2")  # left empty by the customer

    assert response.status_code == 400
    assert audit_rows(app, "data.revealed") == []


def test_a_tampered_value_is_refused_clearly_and_the_attempt_audited(app, officer, public_id):
    client, user = officer
    altered = tamper_with(app, public_id, "town")

    response = reveal(client, public_id, field="town", reason="Customer asked us to confirm it")

    text = response.get_data(as_text=True)
    assert response.status_code == 409 and 'role="alert"' in text
    assert (
        "Town or city cannot be read: the stored data may have been altered. "
        "The attempt has been recorded." in text
    )
    assert ADDRESS["town"] not in text
    assert audit_rows(app, "data.revealed") == []
    [failed] = audit_rows(app, "data.reveal_failed")
    assert (failed.outcome, failed.actor_id, failed.target_id) == ("failure", user.id, public_id)
    assert failed.details == {
        "reason": "Customer asked us to confirm it",
        "fields": ["town"],
        "problem": "altered",
    }
    assert altered.hex() not in repr(failed.details) and ADDRESS["town"] not in repr(failed.details)
    # The other values are intact and still reveal.
    assert ADDRESS["postcode"] in reveal(client, public_id, field="postcode").get_data(as_text=True)


def test_auditors_see_the_masked_view_but_cannot_reveal(app, logged_in, public_id):
    client, _ = logged_in("auditor")

    page = client.get(data_page(public_id)).get_data(as_text=True)
    assert "Received" in page and "Reveal one value" not in page
    assert "not their values" in page
    token = csrf_from(client.get("/backoffice/refunds").get_data(as_text=True))
    refused = client.post(
        data_page(public_id) + "/reveal",
        data={"csrf_token": token, "field": "town", "reason": "Just looking"},
    )

    assert refused.status_code == 403
    assert ADDRESS["town"] not in refused.get_data(as_text=True)
    assert audit_rows(app, "data.revealed") == []


def test_agents_never_reach_captured_data_in_the_back_office(app, logged_in, public_id):
    client, _ = logged_in("agent")
    assert client.get(data_page(public_id)).status_code == 403


def test_a_revealed_value_is_never_logged(app, officer, public_id, caplog):
    client, _ = officer
    watched = [logging.getLogger(name) for name in ("portal", "postern", "werkzeug")]
    for logger in watched:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        assert reveal(client, public_id, field="postcode").status_code == 200
    finally:
        for logger in watched:
            logger.removeHandler(caplog.handler)

    logged = caplog.text + logged_text(caplog.records)
    assert ADDRESS["postcode"] not in logged and "ZE29QX" not in logged


def test_a_reveal_asks_the_officer_to_confirm_it_is_them_first(app, logged_in, public_id):
    client, user = logged_in("backoffice")
    page = client.get(data_page(public_id)).get_data(as_text=True)
    assert "You will be asked for your password and a code." in page

    asked = reveal(client, public_id, field="town")

    assert asked.status_code == 303
    assert asked.headers["Location"] == (
        "/backoffice/reauth?next=/backoffice/requests/" + public_id + "/data"
    )
    assert ADDRESS["town"] not in asked.get_data(as_text=True)
    assert audit_rows(app, "data.revealed") == []
    assert reauth(client, user).status_code == 303
    assert "asked for your password" not in client.get(data_page(public_id)).get_data(as_text=True)
    shown = reveal(client, public_id, field="town")
    assert shown.status_code == 200 and ADDRESS["town"] in shown.get_data(as_text=True)
    assert len(audit_rows(app, "data.revealed")) == 1


def test_a_confirmation_older_than_five_minutes_no_longer_counts(app, officer, public_id):
    from portal.extensions import db
    from portal.models.staff import StaffSession
    from portal.models.types import utcnow

    client, _ = officer
    with app.app_context():
        db.session.execute(
            update(StaffSession).values(reauthenticated_at=utcnow() - timedelta(minutes=6))
        )
        db.session.commit()

    asked = reveal(client, public_id, field="town")

    assert asked.status_code == 303 and asked.headers["Location"].startswith("/backoffice/reauth")
    assert audit_rows(app, "data.revealed") == []


def test_the_service_reveals_nothing_without_a_recent_confirmation(app, public_id):
    """Defence in depth, as for refunds: a caller that forgets to ask is refused by the service
    itself, before anything is read or audited."""
    from portal import audit
    from portal.models.types import utcnow
    from portal.personal_data import service
    from tests.support.capture import load

    clerk = audit.Actor("backoffice1", 1, "backoffice")
    request = load(app, public_id)
    with app.app_context():
        for stale in (None, utcnow() - timedelta(minutes=6), utcnow() + timedelta(minutes=1)):
            with pytest.raises(service.ReauthRequired):
                service.reveal(request, "Customer asked", clerk, reauthenticated_at=stale)
    assert audit_rows(app, "data.revealed") == [] and audit_rows(app, "data.reveal_failed") == []
