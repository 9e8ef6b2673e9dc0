"""Forms of the back office's write side (refunds, re-authentication, captured data, data
subject requests, staff). Every free-text field refuses card numbers; CSRF is on for all."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp

from portal.i18n import N_, lazy_gettext
from portal.refunds.service import FORM_KEY_PATTERN, new_form_key
from portal.refunds.wording import REASONS
from portal.security.authz import Role
from portal.security.validators import NoCardNumbers
from portal.staff_text import MAX_JUSTIFICATION_LENGTH

_TEXT = {"autocomplete": "off", "spellcheck": "false"}
FORM_KEY_MISSING = lazy_gettext(
    "This refund form arrived without its one-time key, so nothing was refunded. "
    "Check the details and press Refund again."
)
FORM_KEY_NOT_VALID = lazy_gettext(
    "This refund form's one-time key is not valid, so nothing was refunded. "
    "Check the details and press Refund again."
)
REASON_RECORDED = lazy_gettext("Give a reason: it is recorded in the audit trail.")


def _reason_field(
    label: str = lazy_gettext("Reason"), message: str = lazy_gettext("Give a reason.")
) -> StringField:
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
        lazy_gettext("Password"),
        validators=[DataRequired(lazy_gettext("Enter your password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        lazy_gettext("Code from your authenticator app"),
        validators=[
            DataRequired(lazy_gettext("Enter the 6-digit code.")),
            Regexp(
                r"^\s*\d{3}\s?\d{3}\s*$", message=lazy_gettext("Enter the 6 digits of the code.")
            ),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", **_TEXT},
    )


class RefundForm(FlaskForm):
    scope = RadioField(
        lazy_gettext("How much to refund"),
        choices=[
            SelectChoice("full", lazy_gettext("Everything that is left")),
            SelectChoice("partial", lazy_gettext("Part of it")),
        ],
        default="full",
        validators=[DataRequired(lazy_gettext("Choose how much to refund."))],
    )
    amount = StringField(
        lazy_gettext("Amount to refund"),
        validators=[Optional(), Length(max=20), NoCardNumbers()],
        render_kw={"inputmode": "decimal", **_TEXT},
    )
    reason_code = SelectField(
        lazy_gettext("Reason"),
        choices=[SelectChoice("", lazy_gettext("Choose a reason"))]
        + [SelectChoice(code, lazy_gettext(words)) for code, (words, _) in REASONS.items()],
        validators=[DataRequired(lazy_gettext("Choose a reason."))],
    )
    note = _reason_field(
        lazy_gettext("Note for the audit trail"),
        lazy_gettext("Write a short note about this refund."),
    )
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
            self.key_problem = " ".join(str(error) for error in self.form_key.errors)
            self.form_key.errors = []
            # Nothing was refunded with the refused key, so the page shown again gets a fresh
            # one: pressing Refund on it then works, once.
            self.form_key.data = new_form_key()
        return ok


class RejectForm(FlaskForm):
    note = _reason_field(
        lazy_gettext("Why are you rejecting it?"), lazy_gettext("Say why you are rejecting it.")
    )


class RevealForm(FlaskForm):
    field = SelectField(
        lazy_gettext("Field to reveal"), validators=[DataRequired(lazy_gettext("Choose a field."))]
    )
    reason = _reason_field(lazy_gettext("Why do you need to see it?"), REASON_RECORDED)


class ExportForm(FlaskForm):
    reason = _reason_field(
        lazy_gettext("Reason (for example the data subject request reference)"), REASON_RECORDED
    )


class EraseForm(FlaskForm):
    reason = _reason_field(
        lazy_gettext("Reason (for example the erasure request reference)"), REASON_RECORDED
    )
    confirm = BooleanField(
        lazy_gettext("I understand this cannot be undone"),
        validators=[DataRequired(lazy_gettext("Tick the box to confirm the erasure."))],
    )


#: Each role as the staff forms name it (translated where shown).
ROLE_NAMES = {
    Role.AGENT: N_("Agent"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.BACKOFFICE: N_("Backoffice"),
    Role.ADMIN: N_("Admin"),
    Role.AUDITOR: N_("Auditor"),
}


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, lazy_gettext(ROLE_NAMES[role])) for role in Role]


class StaffCreateForm(FlaskForm):
    username = StringField(
        lazy_gettext("Username"),
        validators=[
            DataRequired(lazy_gettext("Enter a username.")),
            Length(min=3, max=64),
            Regexp(
                r"^[A-Za-z0-9._-]+$",
                message=lazy_gettext("Use letters, digits, dots, dashes only."),
            ),
            NoCardNumbers(),
        ],
        render_kw={"autocapitalize": "none", **_TEXT},
    )
    display_name = StringField(
        lazy_gettext("Name shown to colleagues"),
        validators=[DataRequired(lazy_gettext("Enter a name.")), Length(max=120), NoCardNumbers()],
        render_kw={"autocomplete": "off"},
    )
    email = StringField(
        lazy_gettext("Work email (optional)"),
        validators=[
            Optional(),
            Length(max=254),
            NoCardNumbers(),
            Email(lazy_gettext("Enter a valid email address.")),
        ],
        render_kw=_TEXT,
    )
    role = SelectField(lazy_gettext("Role"), choices=_role_choices(), validators=[DataRequired()])
    team = StringField(
        lazy_gettext("Team (optional)"),
        validators=[Optional(), Length(max=80), NoCardNumbers()],
        render_kw=_TEXT,
    )
    password = PasswordField(
        lazy_gettext("Initial password"),
        validators=[DataRequired(lazy_gettext("Enter an initial password.")), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        lazy_gettext("Repeat the initial password"),
        validators=[
            DataRequired(lazy_gettext("Repeat the password.")),
            EqualTo("password", message=lazy_gettext("The two passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class StaffUpdateForm(FlaskForm):
    role = SelectField(lazy_gettext("Role"), choices=_role_choices(), validators=[DataRequired()])
    team = StringField(
        lazy_gettext("Team (leave empty for none)"),
        validators=[Optional(), Length(max=80), NoCardNumbers()],
        render_kw=_TEXT,
    )


class StaffPasswordResetForm(FlaskForm):
    lost_authenticator = BooleanField(
        lazy_gettext(
            "They have lost their authenticator app too (remove their two-step verification: "
            "they set it up again when they sign in)"
        )
    )
