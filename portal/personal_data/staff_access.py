"""The staff side of captured data: the agent's masked summary, and erasure (revealing values
is ``reveal``). Knows nothing of HTTP; joins the current transaction; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update

from portal import audit
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue, DataSubmission
from portal.models.types import utcnow
from portal.personal_data.common import ReasonRequired, field_set_for, submission_for
from portal.personal_data.shredding import journal_erasure
from portal.personal_data.validators import plain_label
from portal.staff_text import checked_justification


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


def erase(capture_request: CaptureRequest, reason: str, actor: audit.Actor) -> int:
    """Delete the request's values; keep the (non-personal) submission record, marked erased;
    journal the erasure so that the request's data key is destroyed in the key store when the
    caller commits (``shredding``): then no copy of the values, in any backup, decrypts.

    Returns how many values were deleted. Audits ``data.erased`` as ``actor`` when anything
    changed; a repeat is a no-op. Raises ReasonRequired.
    """
    why = checked_justification(reason, error=ReasonRequired)
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
        journal_erasure([capture_request.id], "data_subject")
        audit.record_for(
            capture_request,
            "data.erased",
            actor,
            # The key goes from the key store as this commits (journaled: erasure_journal).
            details={"reason": why, "values_deleted": deleted, "data_key": "journaled"},
        )
    return deleted
