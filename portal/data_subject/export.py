"""The customer's right of access: everything held about one capture request, as one JSON
document (values decrypted, delivery destinations, payment facts, refunds, a timeline).

Knows nothing of HTTP; joins the current transaction and audits; the caller commits BEFORE
handing the document out. The timeline names staff by role only: who on the staff did what is
not the customer's personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from portal import audit
from portal.audit.trail import in_order, trail
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage
from portal.models.payment import Payment, PaymentAttempt
from portal.models.refund import Refund
from portal.models.types import utcnow
from portal.personal_data import service as personal_data
from portal.personal_data.common import ReasonRequired, submission_for
from portal.refunds.wording import reason_words
from portal.staff_text import checked_justification


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _request_facts(request: CaptureRequest) -> dict[str, Any]:
    return {
        "id": request.public_id,
        "kind": request.kind,
        "status": request.status,
        "status_reason": request.status_reason,
        "amount_minor": request.amount_minor,
        "currency": request.currency,
        "purpose": request.purpose,
        "reference": request.reference,
        "interaction_id": request.interaction_id,
        "identity_check": request.identity_item,
        "link_channel": request.link_channel,
        "created_at": _iso(request.created_at),
        "sent_at": _iso(request.sent_at),
        "opened_at": _iso(request.opened_at),
        "verified_at": _iso(request.verified_at),
        "finished_at": _iso(request.finished_at),
        "expires_at": _iso(request.expires_at),
    }


def _captured(
    request: CaptureRequest, reason: str, actor: audit.Actor, reauthenticated_at: datetime | None
) -> dict | None:
    submission = submission_for(request)
    if submission is None:
        return None
    values = (
        personal_data.reveal(request, reason, actor, reauthenticated_at=reauthenticated_at)
        if request.field_set
        else {}
    )
    return {
        "field_set": submission.field_set,
        "privacy_notice_version": submission.privacy_notice_version,
        "submitted_at": _iso(submission.submitted_at),
        "declined_at": _iso(submission.declined_at),
        "erased_at": _iso(submission.erased_at),
        "values": values,
    }


def _deliveries(request: CaptureRequest) -> list[dict]:
    rows = db.session.execute(
        select(DeliveryMessage)
        .where(DeliveryMessage.capture_request_id == request.id)
        .order_by(DeliveryMessage.id)
    ).scalars()
    return [
        {
            "channel": row.channel,
            "destination": row.destination,
            "destination_masked": row.destination_masked,
            "status": row.status,
            "attempts": row.attempts,
            "created_at": _iso(row.created_at),
            "sent_at": _iso(row.sent_at),
            "contents_deleted_at": _iso(row.purged_at),
        }
        for row in rows
    ]


def _payment(request: CaptureRequest) -> dict | None:
    payment = db.session.execute(
        select(Payment).where(Payment.capture_request_id == request.id)
    ).scalar_one_or_none()
    if payment is None:
        return None
    attempts = db.session.execute(
        select(PaymentAttempt)
        .where(PaymentAttempt.payment_id == payment.id)
        .order_by(PaymentAttempt.id)
    ).scalars()
    refunds = db.session.execute(
        select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id)
    ).scalars()
    return {
        "status": payment.status,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "card_expiry": (
            f"{payment.card_exp_month:02d}/{payment.card_exp_year}"
            if payment.card_exp_month and payment.card_exp_year
            else None
        ),
        "three_d_secure": payment.three_d_secure,
        "succeeded_at": _iso(payment.succeeded_at),
        "attempts": [
            {
                "outcome": a.outcome,
                "decline_code": a.decline_code,
                "card_brand": a.card_brand,
                "card_last4": a.card_last4,
                "at": _iso(a.created_at),
            }
            for a in attempts
        ],
        "refunds": [
            {
                "amount_minor": r.amount_minor,
                "status": r.status,
                "reason": reason_words(r.reason_code),
                "requested_at": _iso(r.created_at),
                "completed_at": _iso(r.completed_at),
            }
            for r in refunds
        ],
    }


def _timeline(request: CaptureRequest) -> list[dict]:
    trail_rows = trail()  # sealed and pending rows alike
    rows = db.session.execute(
        select(trail_rows.c.occurred_at, trail_rows.c.action, trail_rows.c.actor_role)
        .where(
            trail_rows.c.target_type == "capture_request",
            trail_rows.c.target_id == request.public_id,
        )
        .order_by(*in_order(trail_rows))
    ).all()
    # Who on the staff did what is not the customer's data: roles only, never staff names.
    return [{"at": _iso(r.occurred_at), "event": r.action, "by": r.actor_role} for r in rows]


def export_request(
    capture_request: CaptureRequest,
    reason: str,
    actor: audit.Actor,
    *,
    reauthenticated_at: datetime | None,
) -> dict[str, Any]:
    """Everything held about the request, values decrypted, as a JSON-ready dict. Audits, as
    ``actor``, ``data.revealed`` (via ``personal_data.reveal``, when data was captured) and
    ``data_subject.access_exported``.

    Like a reveal it needs a recent re-authentication (``reauthenticated_at``, the actor's
    session's), even for a request without captured values: the export holds where messages
    were sent, which is personal data too.

    Raises ReauthRequired (nothing read or audited); ReasonRequired; ValueUnreadable when a
    stored value cannot be read (then only its ``data.reveal_failed`` row is written: commit
    it)."""
    personal_data.require_recent_reauth(reauthenticated_at)
    why = checked_justification(reason, error=ReasonRequired)
    document = {
        "format": "postern-subject-access/1",
        "generated_at": _iso(utcnow()),
        "request": _request_facts(capture_request),
        "personal_data": _captured(capture_request, why, actor, reauthenticated_at),
        "deliveries": _deliveries(capture_request),
        "payment": _payment(capture_request),
    }
    audit.record_for(
        capture_request, "data_subject.access_exported", actor, details={"reason": why}
    )
    document["timeline"] = _timeline(capture_request)
    return document
