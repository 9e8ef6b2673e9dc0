"""Customer forms: Start (only a CSRF token) and the identity question."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.security.validators import NoCardNumbers


class StartForm(FlaskForm):
    """Pressing Start: a POST with a CSRF token, so no link preview can ever do it."""


class IdentityForm(FlaskForm):
    answer = StringField(
        "Your answer",
        validators=[DataRequired("Enter your answer."), Length(max=80), NoCardNumbers()],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )
