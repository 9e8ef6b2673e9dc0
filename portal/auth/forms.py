from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired("Enter your username."), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )


class CodeForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[
            DataRequired("Enter the code."),
            Length(max=32),
            Regexp(r"^[A-Za-z0-9\- ]+$", message="Use only the letters and digits of the code."),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "spellcheck": "false"},
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Enter a new password."), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("new_password", message="The two new passwords do not match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
