"""``POST /api/v1/requests/{id}/refunds``: an integration asks for a refund.

Dual control is unchanged: the refund waits in the back office's approval queue and a person
with the right to approve refunds decides; the API answers with the refund's state.
"""

from __future__ import annotations

from portal.api import answers, schemas
from portal.api.auth import current_key, key_actor
from portal.api.blueprint import bp, fails_with, needs_scope
from portal.api.errors import INVALID_REQUEST, PERMISSION, ApiError, invalid
from portal.api.idempotency import idempotent
from portal.api.lookups import request_in_team
from portal.api.requests_views import REQUEST
from portal.api.serialise import refund_out
from portal.api.spec import IDEMPOTENCY_KEY, REPLAYED, REQUEST_ID
from portal.api_keys.scopes import REFUNDS_WRITE
from portal.live_status.standings import payments_of
from portal.refunds import service as refunds
from portal.refunds.errors import NotRefundable, OverRefund, RefundError


@bp.route(f"{REQUEST}/refunds", methods=["POST"], parameters=[REQUEST_ID], tags=["Refunds"])
@needs_scope(REFUNDS_WRITE)
@idempotent
@bp.arguments(schemas.RefundBody)
@bp.response(201, answers.RefundOut, headers=REPLAYED)
@fails_with(404, 409)
@bp.doc(parameters=[IDEMPOTENCY_KEY])
def create_refund(body: dict, request_id: str):
    """Ask for a refund

    Ask for a refund of ``amount`` (minor units) of the request's payment. It always waits
    for a person in the back office to approve it (``status`` pending_approval); read the
    request with payments:read to follow it.

    Needs the `refunds:write` scope."""
    capture = request_in_team(request_id)
    key = current_key()
    if key.created_by is None:
        raise ApiError(
            403,
            PERMISSION,
            "no_accountable_administrator",
            "This API key has no administrator accountable for it, so it cannot ask for "
            "refunds. Create a new key in the back office.",
        )
    payment = payments_of([capture]).get(capture.id)
    if payment is None:
        raise ApiError(
            409, INVALID_REQUEST, "not_refundable", "This request has no payment to refund."
        )
    try:
        refund = refunds.request_refund_by_api_key(
            payment.id,
            amount_minor=body["amount"],
            reason_code=body["reason"],
            note=body["note"],
            api_key_id=key.id,
            accountable=key.created_by,
            actor=key_actor(),
        )
    except OverRefund as problem:
        raise invalid("amount", str(problem), "amount_too_large") from None
    except NotRefundable as problem:
        raise ApiError(409, INVALID_REQUEST, "not_refundable", str(problem)) from None
    except RefundError as problem:
        raise invalid("note", str(problem)) from None
    return refund_out(refund), 201
