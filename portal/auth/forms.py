from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from portal.i18n import lazy_gettext


class LoginForm(FlaskForm):
    username = StringField(
        lazy_gettext("Username"),
        validators=[DataRequired(lazy_gettext("Enter your username.")), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        lazy_gettext("Password"),
        validators=[DataRequired(lazy_gettext("Enter your password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )


class CodeForm(FlaskForm):
    code = StringField(
        lazy_gettext("Code"),
        validators=[
            DataRequired(lazy_gettext("Enter the code.")),
            Length(max=32),
            Regexp(
                r"^[A-Za-z0-9\- ]+$",
                message=lazy_gettext("Use only the letters and digits of the code."),
            ),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "spellcheck": "false"},
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        lazy_gettext("Current password"),
        validators=[DataRequired(lazy_gettext("Enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        lazy_gettext("New password"),
        validators=[DataRequired(lazy_gettext("Enter a new password.")), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        lazy_gettext("Repeat the new password"),
        validators=[
            DataRequired(lazy_gettext("Repeat the new password.")),
            EqualTo("new_password", message=lazy_gettext("The two new passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
