"""What ``/api/v1`` answers: one marshmallow schema per answer. flask-smorest serialises the
views' results with them (``@bp.response``) and writes them into the OpenAPI document; ``Error``
is every error's schema (``portal.api.blueprint.fails_with``).
Nothing here can carry a card number, personal data or a link's nonce (``portal.api.serialise``
fills them)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.api.errors import ERROR_TYPES


class CardOut(Schema):
    brand = fields.String(required=True)
    last4 = fields.String(required=True)


class PaymentOut(Schema):
    state = fields.String(required=True, metadata={"description": "docs/payment-standing.md"})
    label = fields.String(required=True)
    words = fields.String(
        required=True, metadata={"description": "The sentence the back office shows."}
    )
    currency = fields.String(required=True)
    amount = fields.Integer(required=True)
    paid = fields.Integer(required=True)
    refunded = fields.Integer(required=True)
    pending_refund = fields.Integer(required=True)
    disputed = fields.Integer(required=True)
    net = fields.Integer(required=True)
    attempts_left = fields.Integer(required=True)
    decline_reason = fields.String(required=True, allow_none=True)
    card = fields.Nested(CardOut, required=True, allow_none=True)


class RefundOut(Schema):
    id = fields.String(required=True, metadata={"description": "re_ followed by a number"})
    object = fields.Constant("refund", required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True)
    status_words = fields.String(required=True)
    reason = fields.String(required=True)
    requires_approval = fields.Boolean(required=True)
    requested_through_api = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)
    completed_at = fields.AwareDateTime(required=True, allow_none=True)


class DisputeOut(Schema):
    object = fields.Constant("dispute", required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True)
    reason = fields.String(required=True)
    evidence_due_by = fields.AwareDateTime(required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)


class DataOut(Schema):
    field_set = fields.String(required=True)
    fields_captured = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Names of the fields the customer gave; never their values."},
    )


class CaptureRequestOut(Schema):
    id = fields.String(required=True)
    object = fields.Constant("capture_request", required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    status_reason = fields.String(required=True, allow_none=True)
    amount = fields.Integer(required=True, allow_none=True)
    currency = fields.String(required=True, allow_none=True)
    reference = fields.String(required=True, allow_none=True)
    interaction_id = fields.String(required=True, allow_none=True)
    agent = fields.String(required=True)
    channel = fields.String(required=True, allow_none=True)
    language = fields.String(
        required=True, metadata={"description": "The customer's language: en or cy."}
    )
    readback_code = fields.String(
        required=True, metadata={"description": "Read back to the customer to confirm the request."}
    )
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    sent_at = fields.AwareDateTime(required=True, allow_none=True)
    opened_at = fields.AwareDateTime(required=True, allow_none=True)
    verified_at = fields.AwareDateTime(required=True, allow_none=True)
    finished_at = fields.AwareDateTime(required=True, allow_none=True)
    payment = fields.Nested(
        PaymentOut,
        allow_none=True,
        metadata={"description": "Only for keys with payments:read; null before a payment starts."},
    )
    refunds = fields.List(fields.Nested(RefundOut), metadata={"description": "payments:read only."})
    disputes = fields.List(
        fields.Nested(DisputeOut), metadata={"description": "payments:read only."}
    )
    data = fields.Nested(DataOut, allow_none=True)
    link_url = fields.String(
        metadata={
            "description": "Only when the channel is copy, and only in the answer that "
            "issued the link: it is not kept and cannot be read again."
        }
    )


class CaptureRequestList(Schema):
    object = fields.Constant("list", required=True)
    data = fields.List(fields.Nested(CaptureRequestOut), required=True)
    has_more = fields.Boolean(required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class EventList(Schema):
    object = fields.Constant("list", required=True)
    data = fields.List(
        fields.Dict(),
        required=True,
        metadata={
            "description": "Events, oldest first, each as its webhook carries it "
            "(docs/webhooks.md)."
        },
    )
    has_more = fields.Boolean(required=True)


class ErrorDetail(Schema):
    type = fields.String(required=True, validate=validate.OneOf(ERROR_TYPES))
    code = fields.String(required=True)
    message = fields.String(required=True)
    param = fields.String(required=True, allow_none=True)


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)
