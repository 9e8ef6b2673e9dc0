"""Forms of the account page's sessions and passkeys sections (the passkey ceremonies
themselves post JSON from static/js/auth/passkeys.js, with the CSRF token in a header)."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.i18n import lazy_gettext
from portal.security.validators import NoCardNumbers
from portal.staff.passkeys import NAME_LENGTH


class PasskeyNameForm(FlaskForm):
    name = StringField(
        lazy_gettext("Name"),
        validators=[
            DataRequired(lazy_gettext("Give the passkey a name.")),
            Length(
                max=NAME_LENGTH,
                message=lazy_gettext("Use at most %(count)s characters.", count=NAME_LENGTH),
            ),
            NoCardNumbers(),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


class PasskeyRemoveForm(FlaskForm):
    password = PasswordField(
        lazy_gettext("Your password"),
        validators=[DataRequired(lazy_gettext("Enter your password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    #: Asked (and required by ``portal.staff.reauth``) only when the authenticator app is on.
    code = StringField(
        lazy_gettext("Code from your authenticator app"),
        validators=[
            Optional(),
            Length(max=32),
            NoCardNumbers(),
            Regexp(r"^[0-9 ]+$", message=lazy_gettext("Use only the digits of the code.")),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
