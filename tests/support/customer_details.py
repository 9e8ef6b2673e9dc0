"""Helpers for the personal-data step tests: a customer's browser (test client) that has
pressed Start and answered the identity question, and what it sends."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.capture import answer_identity, create_direct, load, path_of, press_start
from tests.support.web import csrf_from

ADDRESS = {
    "address_line1": "17 Quillfeather Mews",
    "address_line2": "",
    "town": "Wexcombe Parva",
    "county": "",
    "postcode": "ze2 9qx",
}
DATA_SPEC = {
    "kind": "data",
    "field_set": "address",
    "amount_minor": None,
    "currency": None,
    "purpose": "Update the address on policy HX-20931",
}
BOTH_SPEC = {"kind": "both", "field_set": "address"}


class Customer:
    """A customer's browser (test client) that has pressed Start and answered the question."""

    def __init__(self, app, agent_id: int, client=None, **spec) -> None:
        self.app = app
        self.client = client or app.test_client()
        self.public_id, url = create_direct(app, agent_id, **spec)
        self.base = path_of(url)
        assert press_start(self.client, url).status_code == 303
        assert answer_identity(self.client, url, "SW1A 1AA").status_code == 303

    @property
    def details(self) -> str:
        return self.base + "/details"

    def get(self, suffix: str = "/details"):
        return self.client.get(self.base + suffix)

    def send(self, values: dict, **extra):
        page = self.get().get_data(as_text=True)
        return self.client.post(
            self.details,
            data={**values, "decision": "send", "csrf_token": csrf_from(page), **extra},
        )

    def decline(self):
        """ "I do not want to give these details", then "Yes" on the page that asks."""
        page = self.get("/details/decline").get_data(as_text=True)
        return self.client.post(self.details + "/decline", data={"csrf_token": csrf_from(page)})

    def row(self):
        return load(self.app, self.public_id)


def submission_of(app, public_id):
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.captured_data import DataSubmission

    with app.app_context():
        return db.session.execute(
            select(DataSubmission)
            .join(CaptureRequest, CaptureRequest.id == DataSubmission.capture_request_id)
            .where(CaptureRequest.public_id == public_id)
        ).scalar_one_or_none()
