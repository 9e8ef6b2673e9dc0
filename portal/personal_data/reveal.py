"""Revealing captured values to staff: the one way any staff-facing code reads them (the back
office's one-field reveal, the data-subject access export).

Every reveal carries a reason and follows a recent re-authentication (the staff member proved
password and second factor again within REAUTH_MAX_AGE, as for a refund), and is audited, by
field name, never by value: ``data.revealed`` when the values were read, ``data.reveal_failed``
when a stored value could not be. Knows nothing of HTTP or permissions (the caller's route
guard decides who may reveal, and passes the session's re-authentication time); joins the
current transaction; the caller commits.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue
from portal.personal_data.common import (
    DataCaptureError,
    ReasonRequired,
    ReauthRequired,
    field_set_for,
)
from portal.personal_data.fields import FieldSet
from portal.personal_data.validators import plain_label
from portal.personal_data.values import (
    ALTERED,
    KEY_MISSING,
    KEY_NOT_CONFIGURED,
    decrypt_rows,
)
from portal.staff.reauth import is_recent
from portal.staff_text import checked_justification

#: Why a stored value could not be read (``problem`` in the ``data.reveal_failed`` row), and
#: how the staff member is told.
PROBLEMS = {
    ALTERED: "the stored data may have been altered",
    KEY_MISSING: "its key is no longer in the key store (erased, or the key store was "
    "restored from an older backup)",
    KEY_NOT_CONFIGURED: "the key for the stored data is not configured",
}

log = logging.getLogger("portal.dataprotect")


class ValueUnreadable(DataCaptureError):
    """A stored value failed authentication (tampered, truncated, or moved to another request
    or field) or is under a key that is not configured. Nothing was revealed; a
    ``data.reveal_failed`` row is in the session: COMMIT it, the attempt must stay on record.
    ``str(error)`` is a sentence for the staff member, naming fields, never values."""


def reveal(
    capture_request: CaptureRequest,
    reason: str,
    actor: audit.Actor,
    *,
    reauthenticated_at: datetime | None,
    field: str | None = None,
) -> dict[str, str]:
    """Decrypt the request's values (or only the one named ``field``) and audit
    ``data.revealed`` as ``actor``, with the reason and the field names. Returns
    ``{field name: value}`` in field-set order. The caller must commit (so the audit row lands)
    before showing them.

    ``reauthenticated_at`` is when the actor last confirmed it was them (their session's
    ``reauthenticated_at``); unless that is recent, nothing is read or audited.

    Raises ReauthRequired; ReasonRequired; DataCaptureError (the request has no field set,
    ``field`` is not in it or holds no value); ValueUnreadable (see there).
    """
    require_recent_reauth(reauthenticated_at)
    why = checked_justification(reason, error=ReasonRequired)
    field_set = field_set_for(capture_request)
    values, unreadable = _decrypt(capture_request, _stored(capture_request, field_set, field))
    if unreadable:
        raise _failed(capture_request, field_set, why, unreadable, actor)
    ordered = {name: values[name] for name in field_set.field_names if name in values}
    audit.record_for(
        capture_request, "data.revealed", actor, details={"reason": why, "fields": list(ordered)}
    )
    return ordered


def require_recent_reauth(reauthenticated_at: datetime | None) -> None:
    """Raise ReauthRequired unless ``reauthenticated_at`` is within REAUTH_MAX_AGE."""
    if not is_recent(reauthenticated_at):
        raise ReauthRequired("confirm it is you (password and code) before revealing values")


def _stored(
    capture_request: CaptureRequest, field_set: FieldSet, field: str | None
) -> list[CapturedValue]:
    query = select(CapturedValue).where(CapturedValue.capture_request_id == capture_request.id)
    if field is None:
        return list(db.session.execute(query).scalars())
    if field not in field_set.field_names:
        raise DataCaptureError("that field is not part of this request")
    row = db.session.execute(query.where(CapturedValue.field_name == field)).scalar_one_or_none()
    if row is None:
        raise DataCaptureError("there is no value for that field (never given, or erased)")
    return [row]


def _decrypt(
    capture_request: CaptureRequest, rows: list[CapturedValue]
) -> tuple[dict[str, str], dict[str, str]]:
    """(values by field name, problem by field name for those that could not be read)."""
    decrypted = decrypt_rows(capture_request.id, rows)
    return decrypted.values, decrypted.unreadable


def _failed(
    capture_request: CaptureRequest,
    field_set: FieldSet,
    why: str,
    unreadable: dict[str, str],
    actor: audit.Actor,
) -> ValueUnreadable:
    """Audit ``data.reveal_failed`` and return the error to raise. "altered" outranks a
    key that is gone, which outranks one not configured: the first is the one to investigate."""
    found = set(unreadable.values())
    problem = next(p for p in (ALTERED, KEY_MISSING, KEY_NOT_CONFIGURED) if p in found)
    names = [name for name in field_set.field_names if name in unreadable]
    names += sorted(set(unreadable) - set(names))  # a value moved in from another field set
    audit.record_for(
        capture_request,
        "data.reveal_failed",
        actor,
        outcome="failure",
        details={"reason": why, "fields": names, "problem": problem},
    )
    # Operators hear of it too (it was an unhandled error before): field names only.
    log.error(
        "captured values could not be read on reveal",
        extra={"capture_request": capture_request.public_id, "fields": names, "problem": problem},
    )
    labels = [
        plain_label(field_set.field(name).label) if name in field_set.field_names else name
        for name in names
    ]
    return ValueUnreadable(
        f"{', '.join(labels)} cannot be read: {PROBLEMS[problem]}. The attempt has been recorded."
    )
