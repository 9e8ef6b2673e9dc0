"""Forms of the back office's write side (refunds, re-authentication, captured data, data
subject requests, staff). Every free-text field refuses card numbers; CSRF is on for all."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp

from portal.refunds.service import FORM_KEY_PATTERN, new_form_key
from portal.refunds.wording import REASONS
from portal.security.authz import Role
from portal.security.validators import NoCardNumbers
from portal.staff_text import MAX_JUSTIFICATION_LENGTH

_TEXT = {"autocomplete": "off", "spellcheck": "false"}
FORM_KEY_MISSING = (
    "This refund form arrived without its one-time key, so nothing was refunded. "
    "Check the details and press Refund again."
)
FORM_KEY_NOT_VALID = (
    "This refund form's one-time key is not valid, so nothing was refunded. "
    "Check the details and press Refund again."
)


def _reason_field(label: str = "Reason", message: str = "Give a reason.") -> StringField:
    """A justification for the audit trail: the form's half of ``checked_justification``."""
    return StringField(
        label,
        validators=[DataRequired(message), Length(max=MAX_JUSTIFICATION_LENGTH), NoCardNumbers()],
        render_kw=_TEXT,
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class ReauthForm(FlaskForm):
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        "Code from your authenticator app",
        validators=[
            DataRequired("Enter the 6-digit code."),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6 digits of the code."),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", **_TEXT},
    )


class RefundForm(FlaskForm):
    scope = RadioField(
        "How much to refund",
        choices=[
            SelectChoice("full", "Everything that is left"),
            SelectChoice("partial", "Part of it"),
        ],
        default="full",
        validators=[DataRequired("Choose how much to refund.")],
    )
    amount = StringField(
        "Amount to refund",
        validators=[Optional(), Length(max=20), NoCardNumbers()],
        render_kw={"inputmode": "decimal", **_TEXT},
    )
    reason_code = SelectField(
        "Reason",
        choices=[SelectChoice("", "Choose a reason")]
        + [SelectChoice(code, words) for code, (words, _) in REASONS.items()],
        validators=[DataRequired("Choose a reason.")],
    )
    note = _reason_field("Note for the audit trail", "Write a short note about this refund.")
    #: One-time key of this rendering of the form: sending it twice makes one refund.
    form_key = HiddenField(
        validators=[
            DataRequired(FORM_KEY_MISSING),
            Regexp(FORM_KEY_PATTERN, message=FORM_KEY_NOT_VALID),
        ]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: Why the form's key was refused, shown as the page's own error (the field is hidden,
        #: so the usual "link to the field" error would lead nowhere); None if it was not.
        self.key_problem: str | None = None
        if not self.is_submitted():  # a new page: a new key. A submission keeps what it sent.
            self.form_key.data = new_form_key()

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.form_key.errors:
            self.key_problem = " ".join(self.form_key.errors)
            self.form_key.errors = []
            # Nothing was refunded with the refused key, so the page shown again gets a fresh
            # one: pressing Refund on it then works, once.
            self.form_key.data = new_form_key()
        return ok


class RejectForm(FlaskForm):
    note = _reason_field("Why are you rejecting it?", "Say why you are rejecting it.")


class RevealForm(FlaskForm):
    field = SelectField("Field to reveal", validators=[DataRequired("Choose a field.")])
    reason = _reason_field(
        "Why do you need to see it?", "Give a reason: it is recorded in the audit trail."
    )


class ExportForm(FlaskForm):
    reason = _reason_field(
        "Reason (for example the data subject request reference)",
        "Give a reason: it is recorded in the audit trail.",
    )


class EraseForm(FlaskForm):
    reason = _reason_field(
        "Reason (for example the erasure request reference)",
        "Give a reason: it is recorded in the audit trail.",
    )
    confirm = BooleanField(
        "I understand this cannot be undone",
        validators=[DataRequired("Tick the box to confirm the erasure.")],
    )


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, role.value.capitalize()) for role in Role]


class StaffCreateForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[
            DataRequired("Enter a username."),
            Length(min=3, max=64),
            Regexp(r"^[A-Za-z0-9._-]+$", message="Use letters, digits, dots, dashes only."),
            NoCardNumbers(),
        ],
        render_kw={"autocapitalize": "none", **_TEXT},
    )
    display_name = StringField(
        "Name shown to colleagues",
        validators=[DataRequired("Enter a name."), Length(max=120), NoCardNumbers()],
        render_kw={"autocomplete": "off"},
    )
    email = StringField(
        "Work email (optional)",
        validators=[
            Optional(),
            Length(max=254),
            NoCardNumbers(),
            Email("Enter a valid email address."),
        ],
        render_kw=_TEXT,
    )
    role = SelectField("Role", choices=_role_choices(), validators=[DataRequired()])
    team = StringField(
        "Team (optional)", validators=[Optional(), Length(max=80), NoCardNumbers()], render_kw=_TEXT
    )
    password = PasswordField(
        "Initial password",
        validators=[DataRequired("Enter an initial password."), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        "Repeat the initial password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", message="The two passwords do not match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class StaffUpdateForm(FlaskForm):
    role = SelectField("Role", choices=_role_choices(), validators=[DataRequired()])
    team = StringField(
        "Team (leave empty for none)",
        validators=[Optional(), Length(max=80), NoCardNumbers()],
        render_kw=_TEXT,
    )


class StaffPasswordResetForm(FlaskForm):
    lost_authenticator = BooleanField(
        "They have lost their authenticator app too (remove their two-step verification: they "
        "set it up again when they sign in)"
    )
