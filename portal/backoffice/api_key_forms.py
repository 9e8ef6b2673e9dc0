"""The back office's API-key form (``portal.backoffice.api_keys``). CSRF on; the name refuses
card numbers."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from portal.api_keys.scopes import SCOPES
from portal.api_keys.service import NAME_LENGTH
from portal.i18n import lazy_gettext
from portal.security.validators import NoCardNumbers


class ScopesField(SelectMultipleField):
    """One checkbox per scope, what it allows beside it."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ApiKeyForm(FlaskForm):
    name = StringField(
        lazy_gettext("Name"),
        validators=[
            DataRequired(lazy_gettext("Give the key a name that says which system uses it.")),
            Length(max=NAME_LENGTH),
            NoCardNumbers(),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    team = SelectField(lazy_gettext("Team it acts for"), coerce=int, validate_choice=True)
    scopes = ScopesField(
        lazy_gettext("What it may do"),
        choices=[
            SelectChoice(
                name,
                lazy_gettext("%(scope)s: %(meaning)s", scope=name, meaning=lazy_gettext(words)),
            )
            for name, words in SCOPES.items()
        ],
        validators=[DataRequired(lazy_gettext("Choose at least one scope."))],
    )

    def __init__(self, *args, teams=(), **kwargs):
        """``teams``: the teams a key may act for (``Team`` rows), offered as choices."""
        super().__init__(*args, **kwargs)
        self.team.choices = [SelectChoice(team.id, team.name) for team in teams]
