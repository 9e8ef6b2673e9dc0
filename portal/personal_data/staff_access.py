"""The staff side of captured data: revealing values (with a reason, audited), the agent's
masked summary, and erasure. Knows nothing of HTTP; joins the current transaction; the caller
commits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update

from portal import audit
from portal.audit.service import Actor
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue, DataSubmission
from portal.models.types import utcnow
from portal.personal_data.common import audit_target, checked_reason, field_set_for, submission_for
from portal.personal_data.crypto import Sealed, unseal
from portal.personal_data.keyring import current_keyring
from portal.personal_data.validators import plain_label


@dataclass(frozen=True)
class FieldStatus:
    """One field, as the agent may see it: whether it arrived, never what it holds."""

    name: str
    label: str
    #: "awaiting" | "received" | "not_given" | "declined" | "erased"
    state: str

    @property
    def text(self) -> str:
        return STATE_TEXT[self.state]


STATE_TEXT = {
    "awaiting": "Waiting for the customer",
    "received": "Received",
    "not_given": "Not given (optional)",
    "declined": "Customer declined",
    "erased": "Deleted",
}


def read_values(
    capture_request: CaptureRequest, reason: str, actor: Actor | None = None
) -> dict[str, str]:
    """Decrypt the request's values, in field-set order, and audit ``data.revealed`` with the
    reason and field names. The caller must commit (so the audit row lands) before showing them.

    Raises ReasonRequired, DecryptionError (tampered or misplaced ciphertext), UnknownKeyError.
    """
    why = checked_reason(reason)
    field_set = field_set_for(capture_request)
    keyring = current_keyring()
    rows = db.session.execute(
        select(CapturedValue).where(CapturedValue.capture_request_id == capture_request.id)
    ).scalars()
    decrypted = {
        row.field_name: unseal(
            keyring,
            capture_request.id,
            row.field_name,
            Sealed(row.key_id, row.nonce, row.ciphertext),
        )
        for row in rows
    }
    ordered = {name: decrypted[name] for name in field_set.field_names if name in decrypted}
    audit.record(
        "data.revealed",
        **audit_target(capture_request),
        details={"reason": why, "fields": list(ordered)},
        actor=actor,
    )
    return ordered


def masked_summary(capture_request: CaptureRequest) -> list[FieldStatus]:
    """Per field: received, not given, awaiting, declined or erased. Never decrypts anything,
    so it is safe for the agent's live view."""
    field_set = field_set_for(capture_request)
    submission = submission_for(capture_request)
    received = set(
        db.session.execute(
            select(CapturedValue.field_name).where(
                CapturedValue.capture_request_id == capture_request.id
            )
        ).scalars()
    )
    statuses = []
    for spec in field_set.fields:
        if submission is None:
            state = "awaiting"
        elif submission.declined_at is not None:
            state = "declined"
        elif submission.erased_at is not None:
            state = "erased"
        else:
            state = "received" if spec.name in received else "not_given"
        statuses.append(FieldStatus(spec.name, plain_label(spec.label), state))
    return statuses


def erase(capture_request: CaptureRequest, reason: str, actor: Actor | None = None) -> int:
    """Delete the request's values; keep the (non-personal) submission record, marked erased.

    Returns how many values were deleted. Audits ``data.erased`` when anything changed; a
    repeat is a no-op. Raises ReasonRequired.
    """
    why = checked_reason(reason)
    deleted = db.session.execute(
        delete(CapturedValue).where(CapturedValue.capture_request_id == capture_request.id)
    ).rowcount
    marked = db.session.execute(
        update(DataSubmission)
        .where(
            DataSubmission.capture_request_id == capture_request.id,
            DataSubmission.erased_at.is_(None),
        )
        .values(erased_at=utcnow())
    ).rowcount
    if deleted or marked:
        audit.record(
            "data.erased",
            **audit_target(capture_request),
            details={"reason": why, "values_deleted": deleted},
            actor=actor,
        )
    return deleted
