"""What the personal-data capture tests share (test_captured_data.py and the key-rotation tests
in test_captured_data_keys.py): distinctive values for every field set, a verified request
straight into the table, and storing a submission as the form would."""

from __future__ import annotations

from portal.audit import CUSTOMER, Actor
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.types import utcnow
from portal.personal_data import service
from tests.support.capture import capture_request_row

PURPOSE = "Update the address on home insurance policy HX-20931"
#: The back-office clerk who reveals values in these tests.
CLERK = Actor("backoffice1", 1, "backoffice")

#: What a customer types for each field set, all distinctive enough to search for anywhere.
ENTERED = {
    "address": {
        "address_line1": "17 Quillfeather Mews",
        "address_line2": "Zephyrine Court",
        "town": "Wexcombe Parva",
        "county": "Oxyrhynchshire",
        "postcode": "ze2 9qx",
    },
    "date_of_birth": {"date_of_birth": "1961-07-23"},
    "ni_number": {"ni_number": "jx 48 27 19 b"},
    "bank_details_dd": {
        "account_holder_name": "Ottoline Brackenridge",
        "sort_code": "40 47 84",
        "account_number": "73915026",
    },
    "iban": {
        "account_holder_name": "Ysolde Marchbanks",
        "iban": "FR14 2004 1010 0505 0001 3M02 606",
    },
    "contact": {"email": "Zephyrine.Q@wexcombe-parva.co.uk", "phone": "020 7946 0958"},
}


def new_request(app, staff, field_set: str | None, purpose: str = PURPOSE) -> int:
    """A verified data request, straight into the table (the capture flow has its own tests)."""
    with app.app_context():
        row = capture_request_row(
            staff.id,
            kind="data" if field_set else "payment",
            status="verified",
            field_set=field_set,
            purpose=purpose,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def load(request_id: int) -> CaptureRequest:
    return db.session.get(CaptureRequest, request_id)


def store(app, request_id: int, field_set: str, **kwargs) -> None:
    """Validate ENTERED[field_set] (for "email" or "phone": contact's) as the form would,
    then store it."""
    entered = ENTERED.get(field_set) or ENTERED["contact"]
    cleaned = {}
    with app.app_context():
        capture_request = load(request_id)
        for spec in service.field_set_for(capture_request).fields:
            cleaned[spec.name] = service.validate_value(
                spec, entered.get(spec.name), utcnow().date()
            )
        service.store_submission(
            capture_request, cleaned, "2026-11", **{"actor": CUSTOMER, **kwargs}
        )
        db.session.commit()
