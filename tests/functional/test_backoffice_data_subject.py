"""Data-subject requests: the access export (everything held, as one JSON file, audited with
a reason) and erasure (personal details gone, a non-personal record of what happened kept,
the payment record kept as accounting requires)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.support.backoffice_write import (
    ADDRESS,
    DESTINATION,
    ask_refund,
    audit_rows,
    data_request,
    paid_request,
    reauth,
    refunds_in_db,
    tamper_with,
)
from tests.support.capture import load
from tests.support.payments import sandbox_settings
from tests.support.web import login, post_form


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def page_of(public_id: str) -> str:
    return f"/backoffice/data-requests/{public_id}"


def export(client, public_id, reason="DSAR-2026-114"):
    return post_form(
        client, page_of(public_id) + "/export", {"reason": reason}, page=page_of(public_id)
    )


def erase(client, public_id, reason="Erasure request ER-77", confirm="y"):
    data = {"reason": reason}
    if confirm:
        data["confirm"] = confirm
    return post_form(client, page_of(public_id) + "/erase", data, page=page_of(public_id))


def test_requests_are_found_by_reference(app, logged_in, agent):
    public_id = data_request(app, agent.id, reference="ACC-7731")
    client, _ = logged_in("backoffice")

    page = client.get("/backoffice/data-requests?q=ACC-7731").get_data(as_text=True)

    assert public_id in page and "Requests found (1)" in page
    detail = client.get(page_of(public_id)).get_data(as_text=True)
    assert DESTINATION not in detail  # masked on the page; in full only in the export


def test_the_access_export_holds_everything_and_is_audited(app, logged_in, agent):
    public_id = data_request(app, agent.id)
    client, user = logged_in("backoffice")
    assert reauth(client, user).status_code == 303

    response = export(client, public_id)

    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="subject-access-{public_id}.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    document = json.loads(response.get_data(as_text=True))
    assert document["request"]["id"] == public_id
    assert document["request"]["reference"] == "ACC-7731"
    values = document["personal_data"]["values"]
    assert values["address_line1"] == ADDRESS["address_line1"] and values["postcode"] == "ZE2 9QX"
    assert document["deliveries"][0]["destination"] == DESTINATION
    events = [item["event"] for item in document["timeline"]]
    assert "data.submitted" in events and "data_subject.access_exported" in events
    assert all(set(item) == {"at", "event", "by"} for item in document["timeline"])
    assert agent.username not in response.get_data(as_text=True)  # roles only, never names
    revealed = audit_rows(app, "data.revealed")
    exported = audit_rows(app, "data_subject.access_exported")
    assert revealed[0].details["reason"] == "DSAR-2026-114" and revealed[0].actor_id == user.id
    assert exported[0].details == {"reason": "DSAR-2026-114"}


def test_an_export_needs_a_reason(app, logged_in, agent):
    public_id = data_request(app, agent.id)
    client, _ = logged_in("backoffice")

    response = export(client, public_id, reason="")

    assert response.status_code == 400 and "Give a reason" in response.get_data(as_text=True)
    assert audit_rows(app, "data_subject") == [] and audit_rows(app, "data.revealed") == []


def test_an_export_with_a_tampered_value_is_refused_and_the_attempt_audited(app, logged_in, agent):
    public_id = data_request(app, agent.id)
    client, user = logged_in("backoffice")
    assert reauth(client, user).status_code == 303
    altered = tamper_with(app, public_id, "postcode")

    response = export(client, public_id)

    text = response.get_data(as_text=True)
    assert response.status_code == 409 and response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    assert (
        "Postcode cannot be read: the stored data may have been altered. "
        "The attempt has been recorded." in text
    )
    assert ADDRESS["town"] not in text and DESTINATION not in text
    assert audit_rows(app, "data_subject") == [] and audit_rows(app, "data.revealed") == []
    [failed] = audit_rows(app, "data.reveal_failed")
    assert (failed.outcome, failed.actor_id, failed.target_id) == ("failure", user.id, public_id)
    assert failed.details == {
        "reason": "DSAR-2026-114",
        "fields": ["postcode"],
        "problem": "altered",
    }
    assert altered.hex() not in repr(failed.details)


def test_an_export_asks_the_officer_to_confirm_it_is_them_first(app, logged_in, agent):
    public_id = data_request(app, agent.id)
    client, user = logged_in("backoffice")
    page = client.get(page_of(public_id)).get_data(as_text=True)
    assert page.count("You will be asked for your password and a code.") == 2  # export, erase

    asked = export(client, public_id)

    assert asked.status_code == 303 and "Content-Disposition" not in asked.headers
    assert asked.headers["Location"] == f"/backoffice/reauth?next={page_of(public_id)}"
    assert DESTINATION not in asked.get_data(as_text=True)
    assert audit_rows(app, "data_subject") == [] and audit_rows(app, "data.revealed") == []
    assert reauth(client, user).status_code == 303
    done = export(client, public_id)
    assert done.status_code == 200 and done.mimetype == "application/json"
    assert len(audit_rows(app, "data_subject.access_exported")) == 1


def test_the_service_exports_nothing_without_a_recent_confirmation(app, agent):
    """Defence in depth, as for refunds: checked before anything is read or audited, whether
    or not the request captured values (the export also holds where the link was sent)."""
    from datetime import timedelta

    from portal import audit
    from portal.data_subject import export as access_export
    from portal.models.types import utcnow
    from portal.personal_data import service

    request = load(app, data_request(app, agent.id))
    clerk = audit.Actor("backoffice1", 1, "backoffice")
    with app.app_context():
        for stale in (None, utcnow() - timedelta(minutes=6)):
            with pytest.raises(service.ReauthRequired):
                access_export.export_request(
                    request, "DSAR-2026-115", clerk, reauthenticated_at=stale
                )
    assert audit_rows(app, "data_subject") == [] and audit_rows(app, "data.revealed") == []


def test_erasure_removes_personal_details_and_keeps_a_record(app, make_staff, agent):
    from portal.extensions import db
    from portal.models.captured_data import CapturedValue, DataSubmission
    from portal.models.delivery import DeliveryMessage

    public_id = data_request(app, agent.id)
    client = app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)

    first = erase(client, public_id)
    assert first.headers["Location"].startswith("/backoffice/reauth")  # erasure needs it
    assert reauth(client, user).status_code == 303
    done = erase(client, public_id)

    assert done.status_code == 303
    assert "Erased: 4 value(s) deleted, 1 message(s) emptied." in client.get(
        done.headers["Location"]
    ).get_data(as_text=True)
    row = load(app, public_id)
    assert (row.purpose, row.interaction_id, row.identity_hash, row.reference) == (None,) * 4
    assert row.status == "succeeded" and row.readback_code  # the non-personal record stays
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CapturedValue)) == 0
        submission = db.session.execute(select(DataSubmission)).scalar_one()
        assert submission.erased_at is not None and submission.fields_received
        message = db.session.execute(select(DeliveryMessage)).scalar_one()
        assert (message.destination, message.sealed_link) == (None, None)
        assert message.destination_masked == "(erased)" and message.status == "sent"
    [erased] = audit_rows(app, "data_subject.erased")
    assert erased.details["reason"] == "Erasure request ER-77"
    assert erased.details["values_deleted"] == 4 and erased.actor_id == user.id
    assert [r.action for r in audit_rows(app, "data.erased")] == ["data.erased"]

    # Idempotent: a second erasure finds nothing more, and the export now shows nothing personal.
    again = erase(client, public_id)
    assert "Erased: 0 value(s) deleted, 0 message(s) emptied." in client.get(
        again.headers["Location"]
    ).get_data(as_text=True)
    document = json.loads(export(client, public_id).get_data(as_text=True))
    assert document["personal_data"]["values"] == {}
    assert document["deliveries"][0]["destination"] is None
    assert ADDRESS["town"] not in json.dumps(document)


def test_an_open_request_is_not_erased(app, make_staff, agent):
    public_id = data_request(app, agent.id, status="verified")
    client = app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    reauth(client, user)

    response = erase(client, public_id)

    assert response.status_code == 409 and "still open" in response.get_data(as_text=True)
    assert audit_rows(app, "data_subject.erased") == []


def test_erasure_needs_the_box_ticked(app, make_staff, agent):
    public_id = data_request(app, agent.id)
    client = app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    reauth(client, user)

    response = erase(client, public_id, confirm=None)

    assert response.status_code == 400 and "Tick the box" in response.get_data(as_text=True)


def test_erasing_a_paid_request_keeps_the_payment_record(app_factory, stripe_sandbox, make_staff):
    app = app_factory(**sandbox_settings(stripe_sandbox))
    agent = make_staff("agent")
    public_id = paid_request(app, stripe_sandbox, agent.id)
    client = app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    reauth(client, user)
    refund_note = "Customer Mrs Quillfeather phoned"
    ask_refund(
        client,
        public_id,
        {"scope": "partial", "amount": "1.00", "reason_code": "goodwill", "note": refund_note},
    )

    assert erase(client, public_id).status_code == 303

    row = load(app, public_id)
    assert row.reference == "ACC-1001" and row.purpose is None
    [refund] = refunds_in_db(app, public_id)
    assert refund.reason_note is None and refund.amount_minor == 100
    document = json.loads(export(client, public_id).get_data(as_text=True))
    assert document["payment"]["card_last4"] == "4242"
    assert document["payment"]["refunds"][0]["amount_minor"] == 100
    assert refund_note not in json.dumps(document)
    assert audit_rows(app, "data_subject.erased")[0].details["reference_kept"] is True


def test_auditors_cannot_export_or_erase(app, logged_in, agent):
    public_id = data_request(app, agent.id)
    client, _ = logged_in("auditor")

    assert client.get(page_of(public_id)).status_code == 403
    token_page = client.get("/backoffice/refunds").get_data(as_text=True)
    from tests.support.web import csrf_from

    token = csrf_from(token_page)
    for action in ("export", "erase"):
        response = client.post(
            page_of(public_id) + f"/{action}",
            data={"csrf_token": token, "reason": "curious", "confirm": "y"},
        )
        assert response.status_code == 403, action
    assert audit_rows(app, "data_subject") == []
    assert load(app, public_id).purpose is not None
