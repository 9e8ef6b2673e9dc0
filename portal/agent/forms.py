"""Agent console forms. Every free-text field refuses card numbers."""

from __future__ import annotations

import secrets

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from portal.capture import identity, kinds
from portal.capture.service import RequestSpec
from portal.charge_limits import check_card_amount
from portal.delivery.destinations import normalise_destination
from portal.i18n import ENGLISH, WELSH, gettext, lazy_gettext
from portal.money import AmountError, parse_amount
from portal.security.validators import NoCardNumbers

NO_IDENTITY_CHECK = "none"
_TEXT = {"autocomplete": "off", "spellcheck": "false"}


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    """One choice per entry of a word table (its words marked with ``N_`` where written)."""
    return [SelectChoice(value, lazy_gettext(label)) for value, label in labels.items()]


class DeliveryFields:
    """Channel and destination, shared by the create and resend forms."""

    def check_destination(self) -> bool:
        channel = self.channel.data
        if channel == kinds.COPY_LINK:
            self.destination.data = None
            return True
        if not (self.destination.data or "").strip():
            self.destination.errors.append(
                gettext("Enter the customer's mobile number.")
                if channel == kinds.SMS
                else gettext("Enter the customer's email address.")
            )
            return False
        try:
            self.destination.data = normalise_destination(channel, self.destination.data)
        except ValueError as problem:
            self.destination.errors.append(gettext(str(problem)))
            return False
        return True


def _channel_field():
    return RadioField(
        lazy_gettext("Send the link by"),
        choices=_choices(kinds.CHANNELS),
        default=kinds.SMS,
        validators=[DataRequired(lazy_gettext("Choose how to send the link."))],
    )


def _destination_field():
    return StringField(
        lazy_gettext("Customer's mobile number or email address"),
        validators=[Optional(), Length(max=254), NoCardNumbers()],
        render_kw=_TEXT,
    )


class CreateRequestForm(FlaskForm, DeliveryFields):
    kind = RadioField(
        lazy_gettext("What do you need from the customer?"),
        choices=_choices(kinds.KINDS),
        default=kinds.PAYMENT,
        validators=[DataRequired(lazy_gettext("Choose what the request is for."))],
    )
    amount = StringField(
        lazy_gettext("Amount"),
        validators=[Optional(), Length(max=20), NoCardNumbers()],
        render_kw={"inputmode": "decimal", **_TEXT},
    )
    currency = SelectField(lazy_gettext("Currency"))
    purpose = StringField(
        lazy_gettext("What the payment is for"),
        validators=[Optional(), Length(max=140), NoCardNumbers()],
    )
    reference = StringField(
        lazy_gettext("Your reference"),
        validators=[
            DataRequired(lazy_gettext("Enter a reference.")),
            Length(max=64),
            NoCardNumbers(),
        ],
        render_kw=_TEXT,
    )
    interaction_id = StringField(
        lazy_gettext("Interaction id"),
        validators=[Optional(), Length(max=64), NoCardNumbers()],
        render_kw=_TEXT,
    )
    field_set = SelectField(
        lazy_gettext("Details to collect"),
        choices=[
            SelectChoice("", lazy_gettext("Choose the details")),
            *_choices(kinds.FIELD_SETS),
        ],
        validators=[Optional()],
    )
    identity_item = SelectField(
        lazy_gettext("Identity check"),
        choices=[
            *_choices(identity.ITEMS),
            SelectChoice(NO_IDENTITY_CHECK, lazy_gettext("No identity check")),
        ],
        default=identity.POSTCODE,
    )
    identity_value = StringField(
        lazy_gettext("Expected answer"),
        validators=[Optional(), Length(max=80), NoCardNumbers()],
        render_kw=_TEXT,
    )
    expiry_minutes = IntegerField(lazy_gettext("Link works for"))
    #: The language of the customer's message and pages (they can still switch on any page).
    language = SelectField(
        lazy_gettext("Language"),
        choices=[
            SelectChoice(ENGLISH, lazy_gettext("English")),
            SelectChoice(WELSH, lazy_gettext("Cymraeg (Welsh)")),
        ],
        default=ENGLISH,
    )
    channel = _channel_field()
    destination = _destination_field()
    create_key = HiddenField(validators=[Regexp(r"^[A-Za-z0-9_-]{16,32}$")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = current_app.config
        currencies = config["CAPTURE_CURRENCIES"]
        self.currency.choices = [SelectChoice(code, code) for code in currencies]
        if not self.currency.data:
            self.currency.data = currencies[0]
        self.expiry_minutes.validators = [
            DataRequired(gettext("Enter how many minutes the link should work for.")),
            NumberRange(
                1,
                config["CAPTURE_MAX_EXPIRY_MINUTES"],
                gettext(
                    "Choose between 1 and %(most)s minutes.",
                    most=config["CAPTURE_MAX_EXPIRY_MINUTES"],
                ),
            ),
        ]
        if self.expiry_minutes.data is None and not self.expiry_minutes.raw_data:
            self.expiry_minutes.data = config["CAPTURE_DEFAULT_EXPIRY_MINUTES"]
        # A submission must bring the key of the page it came from: made up here, a double
        # click of a key-less POST (an old page, a hand-made request) would create twice.
        self._key_missing = self.is_submitted() and not self.create_key.data
        if not self.create_key.data:
            self.create_key.data = secrets.token_urlsafe(16)  # the page shown next carries one
        self.amount_minor: int | None = None

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self._key_missing:
            self.create_key.errors.append(
                gettext(
                    "This form was not sent from the console page: check the details and send it "
                    "again."
                )
            )
            ok = False
        kind = self.kind.data
        if kind in kinds.PAYMENT_KINDS:
            ok = self._check_payment() and ok
        if kind in kinds.DATA_KINDS and not self.field_set.data:
            self.field_set.errors.append(gettext("Choose the details to collect."))
            ok = False
        ok = self._check_identity() and ok
        return self.check_destination() and ok

    def _check_payment(self) -> bool:
        ok = True
        if not (self.purpose.data or "").strip() and not self.purpose.errors:
            self.purpose.errors.append(gettext("Say what the payment is for."))
            ok = False
        if self.amount.errors:
            return False
        if not (self.amount.data or "").strip():
            self.amount.errors.append(gettext("Enter the amount."))
            return False
        try:
            amount_minor = parse_amount(
                self.amount.data,
                self.currency.data,
                max_major=current_app.config["CAPTURE_MAX_AMOUNT_MAJOR"],
            )
            # Refused here, in words the agent can read out, rather than at the payment page.
            self.amount_minor = check_card_amount(amount_minor, self.currency.data)
        except AmountError as problem:
            self.amount.errors.append(gettext(str(problem)))
            return False
        return ok

    def _check_identity(self) -> bool:
        item = self.identity_item.data
        if item == NO_IDENTITY_CHECK or self.identity_value.errors:
            return not self.identity_value.errors
        if item not in identity.ITEMS:  # not a choice: the select field has said so already
            return False
        if not (self.identity_value.data or "").strip():
            self.identity_value.errors.append(
                gettext(
                    "Enter the customer's %(item)s from their record, or choose no identity check.",
                    item=gettext(identity.ITEMS[item]).lower(),
                )
            )
            return False
        try:
            identity.normalise(item, self.identity_value.data)
        except identity.IdentityFormatError as problem:
            self.identity_value.errors.append(str(problem))
            return False
        return True

    def spec(self) -> RequestSpec:
        """The validated request, ready for ``service.create_request``."""
        item = self.identity_item.data
        checked = item != NO_IDENTITY_CHECK
        return RequestSpec(
            kind=self.kind.data,
            reference=self.reference.data.strip(),
            expiry_minutes=self.expiry_minutes.data,
            channel=self.channel.data,
            destination=self.destination.data,
            amount_minor=self.amount_minor,
            currency=self.currency.data,
            purpose=(self.purpose.data or "").strip() or None,
            interaction_id=(self.interaction_id.data or "").strip() or None,
            field_set=self.field_set.data or None,
            identity_item=item if checked else None,
            identity_value=self.identity_value.data if checked else None,
            create_key=self.create_key.data,
            language=self.language.data,
        )


class ResendForm(FlaskForm, DeliveryFields):
    channel = _channel_field()
    destination = _destination_field()

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return self.check_destination() and ok


EXTEND_CHOICES = [
    SelectChoice(str(n), lazy_gettext("%(count)s minutes", count=n)) for n in (5, 10, 15, 30)
]


class ExtendForm(FlaskForm):
    minutes = SelectField(lazy_gettext("Add"), choices=EXTEND_CHOICES, coerce=int, default=10)


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token (revoke)."""
