"""Personal-data capture for a capture request: the one module views call.

The customer side lives here (the notice, the form, storing, declining); the staff side
(``reveal`` in ``reveal``, ``masked_summary`` and ``erase`` in ``staff_access``) is re-exported,
with the errors, so callers need only ``from portal.personal_data import service``.

Knows nothing of HTTP. Each function joins the current transaction and audits what it did
(field names and counts, never values); the caller commits. Values are encrypted one by one
under the request's own data key (``values.seal_request_values``, the envelope described in
``crypto``) before they reach the session, so no plaintext is ever written, flushed or
logged. A request gets one decision, submitted or declined: the unique ``capture_request_id``
of ``data_submissions`` refuses a second, whatever races.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from config.retention import describe_retention
from portal import audit
from portal.extensions import db
from portal.i18n import gettext
from portal.models.capture import CaptureRequest
from portal.models.captured_data import FORMAT_ENVELOPE, CapturedValue, DataSubmission
from portal.models.types import utcnow
from portal.personal_data.common import (
    AlreadyDecided,
    DataCaptureError,
    ReasonRequired,
    ReauthRequired,
    field_set_for,
    submission_for,
)
from portal.personal_data.fields import FieldSet, validate_value
from portal.personal_data.forms import DataForm, form_class
from portal.personal_data.keyring import current_keyring
from portal.personal_data.reveal import ValueUnreadable, require_recent_reauth, reveal
from portal.personal_data.staff_access import FieldStatus, erase, masked_summary
from portal.personal_data.validators import FieldValueError
from portal.personal_data.values import seal_request_values

__all__ = [
    "AlreadyDecided",
    "DataCaptureError",
    "DataNotice",
    "FieldStatus",
    "ReasonRequired",
    "ReauthRequired",
    "ValueUnreadable",
    "build_form",
    "erase",
    "field_set_for",
    "masked_summary",
    "notice_for",
    "record_decline",
    "require_recent_reauth",
    "reveal",
    "store_submission",
    "submission_for",
    "validate_value",
    "wants_to_decline",
]
#: Longest privacy-notice version accepted (the column's width).
MAX_NOTICE_VERSION_LENGTH = 40

log = logging.getLogger("portal.dataprotect")


@dataclass(frozen=True)
class DataNotice:
    """What the customer is told before typing anything (see ``_data_notice.html``)."""

    org_name: str
    field_set: FieldSet
    #: The request's own purpose, as the agent wrote it (may be empty).
    purpose: str
    #: e.g. "30 days after your request is completed".
    retention_text: str
    notice_url: str
    notice_version: str


def notice_for(capture_request: CaptureRequest) -> DataNotice:
    """Who is asking, why, for how long, and the privacy notice: shown before the form."""
    field_set = field_set_for(capture_request)
    config = current_app.config
    return DataNotice(
        org_name=config["ORG_NAME"],
        field_set=field_set,
        purpose=capture_request.purpose or "",
        # Configured words, translated here (portal.customer.configured_words lists them).
        retention_text=gettext(describe_retention(field_set.retention_class)),
        notice_url=config["PRIVACY_NOTICE_URL"],
        notice_version=config["PRIVACY_NOTICE_VERSION"],
    )


def build_form(field_set_name: str, formdata: MultiDict | None = None, **kwargs) -> DataForm:
    """A form for the field set. Without ``formdata`` it reads the current request's form on a
    POST (Flask-WTF's default). CSRF is on. Raises FieldSetError for an unknown set."""
    cls = form_class(field_set_name)
    kwargs.setdefault("notice_version", current_app.config["PRIVACY_NOTICE_VERSION"])
    if formdata is None:
        return cls(**kwargs)
    return cls(formdata=formdata, **kwargs)


def wants_to_decline(formdata) -> bool:
    """True when the posted form is the "I do not want to give these details" button."""
    return (formdata or {}).get("decision") == "decline"


def _check_notice_version(notice_version: str) -> None:
    if not notice_version or len(notice_version) > MAX_NOTICE_VERSION_LENGTH:
        raise DataCaptureError("the privacy notice version shown must be recorded")


def _checked_values(field_set: FieldSet, cleaned: dict[str, str]) -> dict[str, str]:
    """Re-check every value on the way in (a caller may have skipped the form); return the
    non-empty ones, normalised, in field-set order."""
    unknown = set(cleaned) - set(field_set.field_names)
    if unknown:
        raise DataCaptureError(f"fields {sorted(unknown)} are not in field set {field_set.name!r}")
    today = utcnow().date()
    values = {}
    for spec in field_set.fields:
        try:
            value = validate_value(spec, cleaned.get(spec.name), today)
        except FieldValueError as problem:
            raise DataCaptureError(f"{spec.name}: {problem}") from None
        if value:
            values[spec.name] = value
    return values


def _insert_decision(submission: DataSubmission, sealed: dict[str, tuple[bytes, bytes]]) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(submission)
            db.session.flush()
            for name, (nonce, ciphertext) in sealed.items():
                db.session.add(
                    CapturedValue(
                        capture_request_id=submission.capture_request_id,
                        field_name=name,
                        format=FORMAT_ENVELOPE,
                        key_id=None,
                        nonce=nonce,
                        ciphertext=ciphertext,
                        created_at=submission.created_at,
                    )
                )
    except IntegrityError:
        raise AlreadyDecided("the customer has already sent or declined this request") from None


def store_submission(
    capture_request: CaptureRequest,
    cleaned: dict[str, str],
    notice_version: str,
    *,
    actor: audit.Actor,
) -> DataSubmission:
    """Encrypt and store the customer's values, with the notice version they saw, audited as
    ``actor`` (the customer).

    Returns the (flushed) submission. Raises AlreadyDecided (a second submission or a decline
    came first), DataCaptureError (no field set, a value that fails its check), KeyringError.
    """
    field_set = field_set_for(capture_request)
    _check_notice_version(notice_version)
    values = _checked_values(field_set, cleaned)
    keyring = current_keyring()
    # The data key is committed in the key store first: an unused key holds nothing, a value
    # without its key would be lost.
    sealed = seal_request_values(capture_request.id, values)
    now = utcnow()
    submission = DataSubmission(
        capture_request_id=capture_request.id,
        field_set=field_set.name,
        privacy_notice_version=notice_version,
        retention_class=field_set.retention_class,
        fields_received=list(sealed),
        submitted_at=now,
        created_at=now,
    )
    _insert_decision(submission, sealed)
    audit.record_for(
        capture_request,
        "data.submitted",
        actor,
        details={
            "field_set": field_set.name,
            "fields": list(sealed),
            "notice_version": notice_version,
            "key_id": keyring.newest_id,
        },
    )
    log.info(
        "personal data stored",
        extra={"capture_request": capture_request.public_id, "field_count": len(sealed)},
    )
    return submission


def record_decline(
    capture_request: CaptureRequest, notice_version: str, *, actor: audit.Actor
) -> DataSubmission:
    """Record that the customer (``actor``) chose not to give the data. Pass the version the
    page showed (``notice_for(...).notice_version``), not one read from the form. Raises
    AlreadyDecided."""
    field_set = field_set_for(capture_request)
    _check_notice_version(notice_version)
    now = utcnow()
    submission = DataSubmission(
        capture_request_id=capture_request.id,
        field_set=field_set.name,
        privacy_notice_version=notice_version,
        retention_class=field_set.retention_class,
        fields_received=[],
        declined_at=now,
        created_at=now,
    )
    _insert_decision(submission, {})
    audit.record_for(
        capture_request,
        "data.declined",
        actor,
        details={"field_set": field_set.name, "notice_version": notice_version},
    )
    return submission
