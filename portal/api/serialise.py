"""Capture requests as the API shows them: ids, status, timestamps and money; with
payments:read their payment (in the back office's vocabulary: ``portal.payments.standing``),
refunds and disputes. Never a card number, personal data or the link's nonce: a data request
shows which fields were captured, never their values; the card is its brand and last four.

Works a page at a time: however many requests, a fixed handful of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from portal.capture.states import effective_status
from portal.extensions import db
from portal.live_status.standings import payments_of, standings_of_payments
from portal.models.capture import CaptureRequest
from portal.models.captured_data import DataSubmission
from portal.models.dispute import Dispute
from portal.models.refund import Refund
from portal.models.staff import StaffUser
from portal.payments.standing import Standing
from portal.refunds.wording import status_words

REFUND_ID_PREFIX = "re_"


def refund_out(refund: Refund) -> dict:
    return {
        "id": f"{REFUND_ID_PREFIX}{refund.id}",
        "amount": refund.amount_minor,
        "currency": refund.currency,
        "status": refund.status,
        "status_words": status_words(refund.status),
        "reason": refund.reason_code,
        "requires_approval": refund.requires_approval,
        "requested_through_api": refund.api_key_id is not None,
        "created_at": refund.created_at,
        "completed_at": refund.completed_at,
    }


def _dispute_out(dispute: Dispute) -> dict:
    return {
        "amount": dispute.amount_minor,
        "currency": dispute.currency,
        "status": dispute.status,
        "reason": dispute.reason,
        "evidence_due_by": dispute.evidence_due_by,
        "created_at": dispute.created_at,
    }


def _payment_out(paid: Standing) -> dict:
    return {
        "state": paid.state.value,
        "label": paid.label,
        "words": paid.detail,
        "currency": paid.currency,
        "amount": paid.amount_minor,
        "paid": paid.paid_minor,
        "refunded": paid.refunded_minor,
        "pending_refund": paid.pending_refund_minor,
        "disputed": paid.disputed_minor,
        "net": paid.net_minor,
        "attempts_left": paid.attempts_left,
        "decline_reason": paid.decline_reason,
        "card": paid.card_parts,
    }


def _by_request(rows, key) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return grouped


def _money(captures: Sequence[CaptureRequest]) -> dict[int, dict]:
    """``{request id: {"payment", "refunds", "disputes"}}``, in five queries."""
    payments = payments_of(captures)
    standings = standings_of_payments(payments.values())
    payment_ids = [payment.id for payment in payments.values()]
    refunds = _by_request(
        db.session.execute(
            select(Refund).where(Refund.payment_id.in_(payment_ids)).order_by(Refund.id.desc())
        ).scalars(),
        lambda refund: refund.payment_id,
    )
    disputes = _by_request(
        db.session.execute(
            select(Dispute).where(Dispute.payment_id.in_(payment_ids)).order_by(Dispute.id)
        ).scalars(),
        lambda dispute: dispute.payment_id,
    )
    money = {}
    for capture in captures:
        payment = payments.get(capture.id)
        if payment is None:
            money[capture.id] = {"payment": None, "refunds": [], "disputes": []}
            continue
        money[capture.id] = {
            "payment": _payment_out(standings[payment.id]),
            "refunds": [refund_out(refund) for refund in refunds[payment.id]],
            "disputes": [_dispute_out(dispute) for dispute in disputes[payment.id]],
        }
    return money


def _fields_captured(captures: Sequence[CaptureRequest]) -> dict[int, list[str]]:
    ids = [capture.id for capture in captures if capture.field_set]
    if not ids:
        return {}
    rows = db.session.execute(
        select(DataSubmission.capture_request_id, DataSubmission.fields_received).where(
            DataSubmission.capture_request_id.in_(ids)
        )
    )
    return {request_id: sorted(received or []) for request_id, received in rows}


def capture_requests_out(captures: Sequence[CaptureRequest], *, with_payment: bool) -> list[dict]:
    """The requests as ``CaptureRequestOut`` serialises them. ``with_payment``: the key holds
    payments:read."""
    if not captures:
        return []
    agents = dict(
        db.session.execute(
            select(StaffUser.id, StaffUser.username).where(
                StaffUser.id.in_({capture.created_by_id for capture in captures})
            )
        ).all()
    )
    fields = _fields_captured(captures)
    money = _money(captures) if with_payment else {}
    answers = []
    for capture in captures:
        out = {
            "id": capture.public_id,
            "kind": capture.kind,
            "status": effective_status(capture).value,
            "status_reason": capture.status_reason,
            "amount": capture.amount_minor,
            "currency": capture.currency,
            "reference": capture.reference,
            "interaction_id": capture.interaction_id,
            "agent": agents[capture.created_by_id],
            "channel": capture.link_channel,
            "language": capture.language,
            "readback_code": capture.readback_code,
            "created_at": capture.created_at,
            "updated_at": capture.updated_at,
            "expires_at": capture.expires_at,
            "sent_at": capture.sent_at,
            "opened_at": capture.opened_at,
            "verified_at": capture.verified_at,
            "finished_at": capture.finished_at,
            "data": (
                {"field_set": capture.field_set, "fields_captured": fields.get(capture.id, [])}
                if capture.field_set
                else None
            ),
        }
        out.update(money.get(capture.id, {}))
        answers.append(out)
    return answers


def capture_request_out(
    capture: CaptureRequest, *, with_payment: bool, link_url: str | None = None
) -> dict:
    """One request (``capture_requests_out``). ``link_url``: only in the answer that issued
    a copy-link link; it is not kept anywhere."""
    (out,) = capture_requests_out([capture], with_payment=with_payment)
    if link_url is not None:
        out["link_url"] = link_url
    return out
