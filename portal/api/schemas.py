"""What ``/api/v1`` takes in: one marshmallow schema per body and query (answers:
``portal.api.answers``). flask-smorest validates each call with them (``@bp.arguments``) and
writes them into the OpenAPI document, so the document cannot drift from what the API does.

Text fields refuse card numbers (``portal.card_numbers``, the detector every form uses).
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from portal.capture import identity, kinds
from portal.capture.states import Status
from portal.card_numbers import contains_pan
from portal.i18n import DEFAULT_LANGUAGE, LANGUAGES
from portal.refunds.wording import REASONS
from portal.security.validators import CARD_NUMBER_MESSAGE, has_control_characters

MAX_PAGE = 100


class WholeNumber(fields.Integer):
    """An integer as JSON has it: ``12`` or ``12.0``, never ``12.5``, ``"12"`` or ``true``.
    (marshmallow's own strict Integer refuses ``12.0``; its lenient one truncates ``12.5``.)"""

    def _validated(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return value


def _no_card_number(value: str) -> None:
    if isinstance(value, str) and contains_pan(value):
        raise ValidationError(CARD_NUMBER_MESSAGE)


def _plain_text(value: str) -> None:
    """No NUL, control or invisible formatting characters (PostgreSQL refuses a NUL outright;
    a right-to-left override can make a reference read as something else)."""
    if isinstance(value, str) and has_control_characters(value):
        raise ValidationError("Remove the control or invisible characters from this text.")


def _text(max_length: int, *, required: bool = False, what: str = "", **kwargs) -> fields.String:
    """A free-text field: at most ``max_length`` characters, never a card number."""
    messages = {"required": f"Give {what}." if what else "This field is required."}
    return fields.String(
        required=required,
        validate=[validate.Length(max=max_length), _no_card_number, _plain_text],
        error_messages=messages,
        **kwargs,
    )


class Strict(Schema):
    """Unknown fields are refused: a misspelt field must not be silently ignored."""

    class Meta:
        unknown = RAISE


# --- what comes in ---------------------------------------------------------------------------


class CreateRequestBody(Strict):
    agent = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), _plain_text],
        error_messages={
            "required": "Name the agent (their Postern username) who owns the request."
        },
        metadata={
            "description": "Username of an active agent of the key's team; the request "
            "appears live in their console."
        },
    )
    kind = fields.String(
        required=True,
        validate=validate.OneOf(list(kinds.KINDS)),
        error_messages={"required": "Say what the request is for: payment, data or both."},
    )
    amount = WholeNumber(
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={"description": "In minor units of the currency (1250 = £12.50). Payments only."},
    )
    currency = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^[A-Z]{3}$", error="Give an ISO 4217 code, like GBP."),
        metadata={"description": "ISO 4217 code; one of the installation's allowed currencies."},
    )
    purpose = _text(
        140,
        allow_none=True,
        metadata={
            "description": "What the payment is for; the customer sees it. Needed for payments."
        },
    )
    reference = _text(64, required=True, what="your reference (an account or invoice number)")
    interaction_id = _text(64, allow_none=True)
    field_set = fields.String(
        allow_none=True,
        validate=validate.OneOf(list(kinds.FIELD_SETS)),
        metadata={"description": "The details to collect. Needed for data requests."},
    )
    identity_item = fields.String(
        allow_none=True,
        validate=validate.OneOf(list(identity.ITEMS)),
        metadata={
            "description": "What the customer must answer before seeing the request; "
            "null for no identity check."
        },
    )
    identity_value = _text(
        80,
        allow_none=True,
        metadata={
            "description": "The expected answer, "
            "from the customer's record. Stored only as a keyed hash."
        },
    )
    expiry_minutes = WholeNumber(validate=validate.Range(min=1))
    channel = fields.String(
        required=True,
        validate=validate.OneOf(list(kinds.CHANNELS)),
        error_messages={"required": "Say how to send the link: sms, email or copy."},
    )
    destination = _text(
        254,
        allow_none=True,
        metadata={
            "description": "Mobile number (sms) or email address (email); not used for copy."
        },
    )
    language = fields.String(
        load_default=DEFAULT_LANGUAGE,
        validate=validate.OneOf(list(LANGUAGES)),
        metadata={
            "description": "The customer's language: en (English, the default) or cy (Welsh). "
            "Their text or email and their pages are in it; they can switch on any page."
        },
    )


class ExtendBody(Strict):
    minutes = WholeNumber(
        required=True,
        validate=validate.Range(min=1, max=1440),
        error_messages={"required": "Say how many minutes to add."},
    )


class ResendBody(Strict):
    channel = fields.String(
        required=True,
        validate=validate.OneOf(list(kinds.CHANNELS)),
        error_messages={"required": "Say how to send the link: sms, email or copy."},
    )
    destination = _text(254, allow_none=True)


class EmptyBody(Strict):
    """No fields: the operation needs none."""


class RefundBody(Strict):
    amount = WholeNumber(
        required=True,
        validate=validate.Range(min=1),
        error_messages={"required": "Give the amount to refund, in minor units."},
        metadata={"description": "In minor units of the payment's currency."},
    )
    reason = fields.String(
        required=True,
        validate=validate.OneOf(list(REASONS)),
        error_messages={"required": "Give the reason for the refund."},
    )
    note = _text(200, required=True, what="a note saying why (the approver reads it)")


class ListQuery(Strict):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE))
    starting_after = fields.String(
        validate=[validate.Length(max=16), _plain_text],
        metadata={"description": "The id of the last request of the page before."},
    )
    cursor = fields.String(
        validate=[validate.Length(max=64), _plain_text],
        metadata={"description": "The opaque next_cursor of the page before."},
    )
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
    reference = fields.String(validate=[validate.Length(max=64), _plain_text])
    interaction_id = fields.String(validate=[validate.Length(max=64), _plain_text])
    agent = fields.String(validate=[validate.Length(max=64), _plain_text])
    created_gte = fields.AwareDateTime(
        metadata={"description": "Created at or after (RFC 3339 with a time zone)."}
    )
    created_lt = fields.AwareDateTime(
        metadata={"description": "Created before (RFC 3339 with a time zone)."}
    )
