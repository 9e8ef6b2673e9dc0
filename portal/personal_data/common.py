"""What the customer side and the staff side of data capture share: errors and the request's
field set. (The reason rule is ``portal.staff_text``; audit rows go through
``audit.record_for``.)"""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.captured_data import DataSubmission
from portal.personal_data.fields import FieldSet, FieldSetError, get_field_set


class DataCaptureError(ValueError):
    """A data-capture rule was broken; ``str(error)`` says which, never with a value in it."""


class AlreadyDecided(DataCaptureError):
    """The request already has a submission or a decline; a second one is refused."""


class ReasonRequired(DataCaptureError):
    """Revealing or erasing needs a reason (it goes in the audit trail)."""


class ReauthRequired(DataCaptureError):
    """Revealing values (one field, or all of them for an access export) needs a recent
    re-authentication: password and a fresh second-factor code, within REAUTH_MAX_AGE."""


def field_set_for(capture_request: CaptureRequest) -> FieldSet:
    """The request's field set. Raises DataCaptureError if it asks for no personal data."""
    try:
        return get_field_set(capture_request.field_set)
    except FieldSetError:
        raise DataCaptureError(
            f"capture request {capture_request.public_id} has no known field set"
        ) from None


def submission_for(capture_request: CaptureRequest) -> DataSubmission | None:
    return db.session.execute(
        select(DataSubmission).where(DataSubmission.capture_request_id == capture_request.id)
    ).scalar_one_or_none()
