"""Reveal one captured value; erase everything personal about one capture request (the
export for the right of access is ``portal.data_subject.export``).

Knows nothing of HTTP. Each function joins the current transaction and audits what it did
(field names, counts and the staff member's reason; never a value); the caller commits, and
must commit BEFORE showing a revealed value or handing out an export, so the audit row exists
whenever the data left the database.

Erasure removes what identifies or describes the customer and keeps a non-personal record
of what happened, because accounting and dispute rules (UK GDPR Art. 17(3)(b)) require the
payment to stay provable:

- removed: the captured values (``personal_data.erase``), every delivery destination, message
  body and masked destination, the identity-check hash, the browser-binding hash, the
  request's purpose and interaction id (free text an agent typed about the customer), and
  staff notes on its refunds (free text too);
- removed unless money was taken: the request's reference (it links to the customer's
  account). When a payment succeeded the reference stays, as the only link between the money
  and the account that accounting and chargebacks need;
- kept: ids, statuses, timestamps, amounts, card brand / last four / expiry (tokenised facts
  Stripe returned, kept for 7 years as payment records), refund amounts and reason codes, the
  submission record (field names, notice version) and the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from portal import audit
from portal.audit.service import Actor
from portal.capture.states import expire_if_due, is_terminal
from portal.delivery import outbox
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue
from portal.models.delivery import FINAL_STATUSES, DeliveryMessage
from portal.models.payment import Payment
from portal.models.refund import Refund
from portal.models.types import utcnow
from portal.personal_data import service as personal_data
from portal.personal_data.common import (
    DataCaptureError,
    audit_target,
    checked_reason,
    field_set_for,
)
from portal.personal_data.crypto import Sealed, unseal
from portal.personal_data.keyring import current_keyring

ERASED_DESTINATION = "(erased)"


class RequestStillOpen(DataCaptureError):
    """The request's link may still be used; close it (revoke) before erasing."""


def find_request(public_id: str) -> CaptureRequest | None:
    return db.session.execute(
        select(CaptureRequest).where(CaptureRequest.public_id == public_id.strip())
    ).scalar_one_or_none()


def search(term: str, limit: int = 50) -> list[CaptureRequest]:
    """Requests whose public id or reference is exactly ``term``, newest first."""
    text = (term or "").strip()
    if not text:
        return []
    return list(
        db.session.execute(
            select(CaptureRequest)
            .where((CaptureRequest.public_id == text) | (CaptureRequest.reference == text))
            .order_by(CaptureRequest.id.desc())
            .limit(limit)
        ).scalars()
    )


def reveal_field(
    capture_request: CaptureRequest, field_name: str, reason: str, actor: Actor | None = None
) -> str:
    """Decrypt ONE field's value and audit ``data.revealed`` with the reason and that field's
    name. Raises ReasonRequired, DataCaptureError (no such field or no value), DecryptionError.
    """
    why = checked_reason(reason)
    field_set = field_set_for(capture_request)
    if field_name not in field_set.field_names:
        raise DataCaptureError("that field is not part of this request")
    row = db.session.execute(
        select(CapturedValue).where(
            CapturedValue.capture_request_id == capture_request.id,
            CapturedValue.field_name == field_name,
        )
    ).scalar_one_or_none()
    if row is None:
        raise DataCaptureError("there is no value for that field (never given, or erased)")
    value = unseal(
        current_keyring(),
        capture_request.id,
        field_name,
        Sealed(row.key_id, row.nonce, row.ciphertext),
    )
    audit.record(
        "data.revealed",
        **audit_target(capture_request),
        details={"reason": why, "fields": [field_name]},
        actor=actor,
    )
    return value


@dataclass(frozen=True)
class ErasureReport:
    values_deleted: int
    messages_cleared: int
    messages_still_sending: int
    refund_notes_cleared: int
    reference_kept: bool


def erase_request(
    capture_request: CaptureRequest, reason: str, actor: Actor | None = None
) -> ErasureReport:
    """Erase the personal data of one request (see the module docstring for what goes and
    what stays). Idempotent. Audits ``data.erased`` (values) and ``data_subject.erased``.
    Raises ReasonRequired, RequestStillOpen."""
    why = checked_reason(reason)
    expire_if_due(capture_request)  # a lapsed link counts as closed even if nobody noticed yet
    if not is_terminal(capture_request.status):
        raise RequestStillOpen("this request is still open: revoke it first, then erase")
    values = personal_data.erase(capture_request, why, actor=actor)
    outbox.cancel_pending(capture_request.id, "erasure")
    cleared = db.session.execute(
        update(DeliveryMessage)
        .where(
            DeliveryMessage.capture_request_id == capture_request.id,
            DeliveryMessage.status.in_(FINAL_STATUSES),
            DeliveryMessage.destination_masked != ERASED_DESTINATION,
        )
        .values(
            destination=None,
            destination_masked=ERASED_DESTINATION,
            subject=None,
            text_body=None,
            html_body=None,
            purged_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    sending = db.session.execute(
        select(DeliveryMessage.id).where(
            DeliveryMessage.capture_request_id == capture_request.id,
            DeliveryMessage.status.not_in(FINAL_STATUSES),
        )
    ).all()
    paid = db.session.execute(
        select(Payment.id).where(
            Payment.capture_request_id == capture_request.id, Payment.status == "succeeded"
        )
    ).first()
    changes: dict[str, Any] = {
        "identity_hash": None,
        "bound_secret_hash": None,
        "purpose": None,
        "interaction_id": None,
    }
    if paid is None:
        changes["reference"] = None
    db.session.execute(
        update(CaptureRequest)
        .where(CaptureRequest.id == capture_request.id)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    notes = db.session.execute(
        update(Refund)
        .where(
            Refund.payment_id.in_(
                select(Payment.id).where(Payment.capture_request_id == capture_request.id)
            ),
            (Refund.reason_note.is_not(None)) | (Refund.decision_note.is_not(None)),
        )
        .values(reason_note=None, decision_note=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(capture_request)
    report = ErasureReport(values, cleared, len(sending), notes, paid is not None)
    audit.record(
        "data_subject.erased",
        **audit_target(capture_request),
        details={
            "reason": why,
            "values_deleted": values,
            "messages_cleared": cleared,
            "messages_still_sending": len(sending),
            "refund_notes_cleared": notes,
            "reference_kept": paid is not None,
        },
        actor=actor,
    )
    return report
