"""Forms of the back office's webhooks pages (``portal.backoffice.webhooks``). CSRF is on for
all; free text refuses card numbers."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.hooks.catalogue import EVENT_TYPES
from portal.hooks.endpoints import MAX_DESCRIPTION
from portal.i18n import gettext, lazy_gettext
from portal.security.validators import NoCardNumbers

#: The team choice that means every team's requests.
EVERY_TEAM = "*"

_TEXT = {"autocomplete": "off", "spellcheck": "false"}


class EventTypesField(SelectMultipleField):
    """One checkbox per event type, its meaning beside it."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _event_types() -> EventTypesField:
    return EventTypesField(
        lazy_gettext("Events to send"),
        choices=[
            SelectChoice(
                name,
                lazy_gettext("%(event)s: %(meaning)s", event=name, meaning=lazy_gettext(meaning)),
            )
            for name, meaning in EVENT_TYPES.items()
        ],
        validators=[DataRequired(lazy_gettext("Choose at least one event type to send."))],
    )


class EndpointForm(FlaskForm):
    url = StringField(
        lazy_gettext("Endpoint URL"),
        validators=[
            DataRequired(lazy_gettext("Enter the URL events are sent to.")),
            Length(max=2000),
            NoCardNumbers(),
        ],
        render_kw={**_TEXT, "inputmode": "url"},
    )
    description = StringField(
        lazy_gettext("Description"),
        validators=[Optional(), Length(max=MAX_DESCRIPTION), NoCardNumbers()],
        render_kw=_TEXT,
    )
    #: Whose requests the endpoint hears about: one team, or, chosen deliberately, every team
    #: (never by leaving a box empty: every team's references would go to one URL).
    team = SelectField(
        lazy_gettext("Whose requests"),
        validators=[DataRequired(lazy_gettext("Choose a team, or every team."))],
    )
    event_types = _event_types()

    def __init__(self, *args, teams=(), **kwargs):
        """``teams``: the team names offered, besides every team."""
        super().__init__(*args, **kwargs)
        self.team.choices = [
            SelectChoice("", gettext("Choose…")),
            *(SelectChoice(name, gettext("Team %(name)s", name=name)) for name in teams),
            SelectChoice(EVERY_TEAM, gettext("Every team's requests")),
        ]

    def chosen_team(self) -> str | None:
        """The team name chosen, or None for every team."""
        return None if self.team.data == EVERY_TEAM else self.team.data


class EventTypesForm(FlaskForm):
    event_types = _event_types()
