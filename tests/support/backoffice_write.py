"""Helpers for the back office's write-side tests: a request the customer has paid through
the real pages and the Stripe sandbox, re-authentication, and the sandbox's record of refunds.
"""

from __future__ import annotations

import re
import secrets

import requests
from sqlalchemy import select

from tests.support.capture import capture_request_row
from tests.support.payments import confirm_in_browser, customer_at_payment, load_payment
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, current_totp, post_form


def paid_request(app, sandbox, agent_id: int, amount_minor: int = 1250) -> str:
    """A payment request the customer has paid (Visa 4242), as the real pages learn it;
    returns its public id."""
    customer = customer_at_payment(app, agent_id, amount_minor=amount_minor)
    assert customer.client.get(customer.pay_path).status_code == 200
    intent_id = load_payment(app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(sandbox, intent_id, "pm_card_visa")
    status = customer.client.get(customer.pay_path + "/status").get_json()
    assert status["state"] == "succeeded", status
    return customer.public_id


def reauth(client, user, *, offset_steps: int = 1, password: str = DEFAULT_PASSWORD):
    """Confirm it's you. The login just used the current TOTP step, and a code is accepted
    once, so the next step's code (accepted for clock drift) is used by default."""
    return post_form(
        client,
        "/backoffice/reauth",
        {"password": password, "code": current_totp(user, offset_steps=offset_steps)},
    )


def reauthenticated_officer(app, make_staff):
    """(client, user): a new back-office user signed in with password and TOTP and just
    re-authenticated, as a refund needs."""
    from tests.support.web import login

    client = app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    return client, user


_FORM_KEY = re.compile(r'name="form_key" type="hidden" value="([^"]+)"')


def refund_url(public_id: str) -> str:
    return f"/backoffice/refunds/new/{public_id}"


def refund_form(client, public_id: str) -> dict:
    """What the refund page's form sends besides what staff fill in: the CSRF token and the
    form's one-time key. A page showing no form (nothing left to refund) gives a fresh key, as
    a form opened earlier in another tab would carry."""
    page = client.get(refund_url(public_id)).get_data(as_text=True)
    key = _FORM_KEY.search(page)
    return {
        "csrf_token": csrf_from(page),
        "form_key": key.group(1) if key else secrets.token_urlsafe(16),
    }


def ask_refund(client, public_id: str, fields: dict, *, form: dict | None = None):
    """Fill in the refund page's form with ``fields`` and send it. Pass ``form`` (from
    ``refund_form``) to send one rendering of the form again, as a double click does."""
    return client.post(
        refund_url(public_id), data={**fields, **(form or refund_form(client, public_id))}
    )


def refund_calls(sandbox) -> list[dict]:
    """Every POST /v1/refunds the sandbox received (including refused and replayed ones)."""
    answer = requests.get(
        f"{sandbox.url}/_sandbox/requests",
        params={"method": "POST", "path": "/v1/refunds"},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()["data"]


def sandbox_refunds(sandbox) -> list[dict]:
    answer = requests.get(
        f"{sandbox.url}/v1/refunds", auth=(sandbox.secret_key, ""), timeout=5
    ).json()
    return answer["data"]


def refunds_in_db(app, public_id: str | None = None) -> list:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment
    from portal.models.refund import Refund

    with app.app_context():
        query = select(Refund).order_by(Refund.id)
        if public_id:
            query = (
                query.join(Payment, Payment.id == Refund.payment_id)
                .join(CaptureRequest, CaptureRequest.id == Payment.capture_request_id)
                .where(CaptureRequest.public_id == public_id)
            )
        rows = list(db.session.execute(query).scalars())
        db.session.expunge_all()
        return rows


def audit_rows(app, action_prefix: str) -> list:
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = list(
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action.startswith(action_prefix))
                .order_by(AuditEvent.seq)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


#: What the customer typed, distinctive enough to search for anywhere.
ADDRESS = {
    "address_line1": "17 Quillfeather Mews",
    "address_line2": "",
    "town": "Wexcombe Parva",
    "county": "Oxyrhynchshire",
    "postcode": "ZE2 9QX",
}
DESTINATION = "+447700900123"


def data_request(app, agent_id: int, *, status: str = "succeeded", reference: str = "ACC-7731"):
    """A completed address request: values stored through the real (encrypting) service, one
    text message sent to the customer. Returns its public id."""
    from portal.audit import CUSTOMER
    from portal.extensions import db
    from portal.models.delivery import DeliveryMessage
    from portal.models.types import utcnow
    from portal.personal_data import service

    now = utcnow()
    with app.app_context():
        row = capture_request_row(
            agent_id,
            kind="data",
            now=now,
            status="verified",
            purpose="Change of address for Mrs Quillfeather",
            reference=reference,
            interaction_id="CALL-5531",
            identity_item="postcode",
            identity_hash="ab" * 32,
        )
        db.session.add(row)
        db.session.flush()
        cleaned = {
            spec.name: service.validate_value(spec, ADDRESS.get(spec.name), now.date())
            for spec in service.field_set_for(row).fields
        }
        service.store_submission(row, cleaned, "2026-11", actor=CUSTOMER)
        db.session.add(
            DeliveryMessage(
                capture_request_id=row.id,
                channel="sms",
                backend="dev",
                destination=DESTINATION,
                destination_masked="+44 •••• ••0123",
                sealed_link="k1:c2VhbGVk",  # a development outbox keeps it until retention
                status="sent",
                attempts=1,
                created_at=now,
                updated_at=now,
                sent_at=now,
            )
        )
        row.status = status
        row.finished_at = now if status in ("succeeded", "failed", "revoked") else None
        db.session.commit()
        return row.public_id


def tamper_with(app, public_id: str, field_name: str) -> bytes:
    """Flip one bit of a stored value's ciphertext, as someone editing the database would.
    Returns the altered ciphertext (to check it is never echoed or audited)."""
    from sqlalchemy import update

    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.captured_data import CapturedValue

    with app.app_context():
        row = db.session.execute(
            select(CapturedValue)
            .join(CaptureRequest, CaptureRequest.id == CapturedValue.capture_request_id)
            .where(CaptureRequest.public_id == public_id, CapturedValue.field_name == field_name)
        ).scalar_one()
        altered = bytes([row.ciphertext[0] ^ 0x01]) + bytes(row.ciphertext[1:])
        db.session.execute(
            update(CapturedValue).where(CapturedValue.id == row.id).values(ciphertext=altered)
        )
        db.session.commit()
        return altered
