"""WTForms forms built from field sets: server-side validation, CSRF on, no JavaScript needed.

``form_class(name)`` builds (once per field set) a ``FlaskForm`` subclass with one field per
spec. Every field runs ``fields.validate_value`` (length, card-number refusal, the kind's
check), and on success its ``data`` becomes the normalised value, so a re-shown form shows
what will be stored ("SW1A 1AA"). A date of birth is three inputs (day, month, year), after
GOV.UK's date-input pattern, which works on every browser and screen reader.
"""

from __future__ import annotations

from functools import cache

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField
from wtforms.utils import unset_value
from wtforms.validators import StopValidation, ValidationError

from portal.card_numbers import contains_pan
from portal.i18n import lazy_gettext
from portal.models.types import utcnow
from portal.personal_data.fields import (
    FieldSet,
    FieldSetError,
    FieldSpec,
    get_field_set,
    validate_value,
)
from portal.personal_data.validators import FieldValueError, date_from_parts

DATE_PARTS = ("day", "month", "year")


class DatePartsField(Field):
    """A date typed as three inputs named ``<name>-day``, ``<name>-month`` and ``<name>-year``.

    ``data`` is the ISO date once validated; ``parts`` keeps what was typed, for re-display.
    Rendered by the ``data_fields`` macro (templates/customer/_data_fields.html), not by itself.
    """

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        self.parts = dict.fromkeys(DATE_PARTS, "")
        self.data = None if data is unset_value else data
        self.raw_data = None
        if formdata is not None:
            self.parts = {part: formdata.get(f"{self.name}-{part}", "") for part in DATE_PARTS}
            self.raw_data = list(self.parts.values())

    def part_id(self, part: str) -> str:
        """The id of one input; the day input carries the field's own id, so error-summary
        links (``#<field id>``) land on the first box."""
        return self.id if part == "day" else f"{self.id}-{part}"


class DataForm(FlaskForm):
    """Base for field-set forms. ``notice_version`` carries the privacy notice version the
    page showed, so a notice changed while the customer was typing is shown again first."""

    field_set: FieldSet
    notice_version = HiddenField()

    def validate_notice_version(self, field):
        if (field.data or "") != current_app.config["PRIVACY_NOTICE_VERSION"]:
            field.data = current_app.config["PRIVACY_NOTICE_VERSION"]
            raise ValidationError(
                "Our privacy notice changed while this page was open. Read the updated notice, "
                "then send your details again."
            )

    def data_fields(self) -> list[Field]:
        """The personal-data fields, in the field set's order (no CSRF or notice field)."""
        return [self[name] for name in self.field_set.field_names]

    def spec(self, name: str) -> FieldSpec:
        return self.field_set.field(name)

    def cleaned(self) -> dict[str, str]:
        """Normalised values by field name ('' for an optional field left empty).
        Only meaningful after ``validate_on_submit()`` returned True."""
        return {name: self[name].data or "" for name in self.field_set.field_names}


def _checker(spec: FieldSpec):
    def check(form, field):
        today = utcnow().date()
        try:
            if isinstance(field, DatePartsField):
                typed = field.parts
                if not any(value.strip() for value in typed.values()):
                    if spec.required:
                        raise FieldValueError(spec.message_if_empty)
                    field.data = ""
                    raise StopValidation()
                field.data = date_from_parts(
                    typed["day"], typed["month"], typed["year"], spec.label, today
                )
            else:
                field.data = validate_value(spec, field.data, today)
        except FieldValueError as problem:
            if isinstance(field.data, str) and contains_pan(field.data):
                # Forget what was typed: the re-shown form must not echo a card number back.
                field.data = ""
                field.raw_data = []
            raise StopValidation(str(problem)) from None

    return check


def _render_kw(spec: FieldSpec) -> dict[str, str]:
    rules = spec.kind_rules
    attributes = {
        "autocomplete": spec.autocomplete,
        "spellcheck": "true" if rules.spellcheck else "false",
    }
    if rules.input_type != "text":
        attributes["type"] = rules.input_type
    if spec.inputmode:
        attributes["inputmode"] = spec.inputmode
    if spec.width:
        attributes["class"] = f"input-width-{spec.width}"
    return attributes


def _field(spec: FieldSpec) -> Field:
    # Lazy: the class is built once, each page shows the words in its own language.
    label = lazy_gettext(spec.label)
    hint = lazy_gettext(spec.hint) if spec.hint else ""
    if spec.kind == "date_of_birth":
        return DatePartsField(label, validators=[_checker(spec)], description=hint)
    return StringField(
        label,
        validators=[_checker(spec)],
        description=hint,
        render_kw=_render_kw(spec),
    )


@cache
def form_class(field_set_name: str) -> type[DataForm]:
    """The form class for a field set (built once). Raises FieldSetError for an unknown name."""
    field_set = get_field_set(field_set_name)
    attributes: dict = {"field_set": field_set}
    for spec in field_set.fields:
        if hasattr(DataForm, spec.name) or spec.name.startswith("validate_"):
            raise FieldSetError(f"field name {spec.name!r} clashes with the form's own names")
        attributes[spec.name] = _field(spec)
    return type(f"DataForm_{field_set.name}", (DataForm,), attributes)
