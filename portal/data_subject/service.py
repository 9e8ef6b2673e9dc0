"""Find capture requests and erase everything personal about one (the export for the right
of access is ``portal.data_subject.export``; revealing one value is
``portal.personal_data.reveal``).

Knows nothing of HTTP. Each function joins the current transaction and audits what it did
(field names, counts and the staff member's reason; never a value); the caller commits.

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

from sqlalchemy import func, or_, select, update

from portal import audit
from portal.capture import public_ids, visibility
from portal.capture import service as capture_service
from portal.capture.states import is_terminal
from portal.delivery import outbox
from portal.delivery.destinations import EMAIL, SMS, normalise_destination
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import FINAL_STATUSES, DeliveryMessage
from portal.models.payment import Payment, PaymentStatus
from portal.models.refund import Refund
from portal.models.types import utcnow
from portal.personal_data import service as personal_data
from portal.personal_data.common import (
    DataCaptureError,
    ReasonRequired,
)
from portal.staff_text import checked_justification

ERASED_DESTINATION = "(erased)"


class RequestStillOpen(DataCaptureError):
    """The request's link may still be used; close it (revoke) before erasing."""


def find_request(public_id: str) -> CaptureRequest | None:
    """The request meant by ``public_id`` as typed or pasted (``visibility.by_public_id``)."""
    return visibility.find_by_public_id(public_id)


@dataclass(frozen=True)
class SearchResult:
    """What a data-subject search found, and what the term was read as (never the term)."""

    requests: list[CaptureRequest]
    #: "contact" (an email address or mobile number), or "id or reference".
    read_as: str


def _as_contact(text: str) -> str | None:
    """``text`` as the outbox stores a destination (``destinations``), or None if it is
    neither an email address nor a mobile number."""
    channel = EMAIL if "@" in text else SMS
    try:
        return normalise_destination(channel, text)
    except ValueError:
        return None


def reads_as_contact(term: str) -> bool:
    """True if a search for ``term`` would look for an email address or mobile number."""
    return _as_contact((term or "").strip()) is not None


def search(term: str, actor: audit.Actor, limit: int = 50) -> SearchResult:
    """Every request of one person, newest first: those sent to the email address or mobile
    number ``term`` (compared as the outbox stores them, the address case-insensitively), or
    whose public id (read the forgiving way: ``public_ids``) or reference is ``term``, case
    ignored. Audited (how the term was read and how many were found, never the term).

    A destination is kept only until the retention purge empties it (the "link_and_delivery"
    period of ``config.retention``); a request older than that is found by reference or id.
    """
    text = (term or "").strip()
    if not text:
        return SearchResult([], "id or reference")
    matches = [
        CaptureRequest.public_id.in_(public_ids.candidates(text)),
        func.lower(CaptureRequest.reference) == text.lower(),
    ]
    contact = _as_contact(text)
    if contact:
        matches.append(
            CaptureRequest.id.in_(
                select(DeliveryMessage.capture_request_id).where(
                    func.lower(DeliveryMessage.destination) == contact.lower()
                )
            )
        )
    found = list(
        db.session.execute(
            select(CaptureRequest)
            .where(or_(*matches))
            .order_by(CaptureRequest.id.desc())
            .limit(limit)
        ).scalars()
    )
    read_as = "contact" if contact else "id or reference"
    audit.record(
        "data_subject.searched",
        actor=actor,
        details={"read_as": read_as, "found": len(found)},
    )
    return SearchResult(found, read_as)


@dataclass(frozen=True)
class ErasureReport:
    values_deleted: int
    messages_cleared: int
    messages_still_sending: int
    refund_notes_cleared: int
    reference_kept: bool


def erase_request(
    capture_request: CaptureRequest, reason: str, actor: audit.Actor
) -> ErasureReport:
    """Erase the personal data of one request (see the module docstring for what goes and
    what stays). Idempotent. Audits ``data.erased`` (values) and ``data_subject.erased`` as
    ``actor``. Raises ReasonRequired, RequestStillOpen."""
    why = checked_justification(reason, error=ReasonRequired)
    # A lapsed link counts as closed even if nobody noticed yet; expiring it here is audited
    # (``capture.expired``) like everywhere else.
    capture_service.expire_if_due(capture_request, origin=actor.origin)
    if not is_terminal(capture_request.status):
        raise RequestStillOpen("this request is still open: revoke it first, then erase")
    values = personal_data.erase(capture_request, why, actor=actor)
    outbox.cancel_pending(capture_request, "erasure", actor)
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
            sealed_link=None,
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
            Payment.capture_request_id == capture_request.id,
            Payment.status == PaymentStatus.SUCCEEDED,
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
    audit.record_for(
        capture_request,
        "data_subject.erased",
        actor,
        details={
            "reason": why,
            "values_deleted": values,
            "messages_cleared": cleared,
            "messages_still_sending": len(sending),
            "refund_notes_cleared": notes,
            "reference_kept": paid is not None,
        },
    )
    return report
