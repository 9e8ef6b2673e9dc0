"""Field sets as typed objects, loaded from ``config.field_sets`` and checked once, at import.

A mistake in the declarations (an unknown kind or retention class, a duplicate field name, a
combined set that includes itself) raises ``FieldSetError`` when Postern starts, not when a
customer first meets the broken page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from config.field_sets import FIELD_SETS
from config.retention import RETENTION
from portal.card_numbers import contains_pan
from portal.i18n import gettext
from portal.personal_data.validators import KINDS, FieldValueError, Kind, plain_label


class FieldSetError(ValueError):
    """The field-set declarations are inconsistent, or a field set name is unknown."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str
    required: bool = True
    hint: str | None = None
    autocomplete: str = "off"
    inputmode: str | None = None
    max_length: int = 100
    width: int | None = None
    required_message: str | None = None

    @property
    def kind_rules(self) -> Kind:
        return KINDS[self.kind]

    @property
    def message_if_empty(self) -> str:
        """In the language of the page in flight."""
        if self.required_message:
            return gettext(self.required_message)
        return gettext("Enter %(name)s", name=plain_label(self.label).lower())


@dataclass(frozen=True)
class FieldSet:
    name: str
    title: str
    purpose: str
    retention_class: str
    fields: tuple[FieldSpec, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    def field(self, name: str) -> FieldSpec:
        """The spec named ``name``. Raises KeyError."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)


def _field_spec(set_name: str, raw: Mapping) -> FieldSpec:
    try:
        spec = FieldSpec(**raw)
    except TypeError as problem:
        raise FieldSetError(f"field set {set_name!r}: {problem}") from None
    if spec.kind not in KINDS:
        raise FieldSetError(f"field set {set_name!r}: {spec.name!r} has unknown kind {spec.kind!r}")
    if not spec.name.isidentifier():
        raise FieldSetError(f"field set {set_name!r}: {spec.name!r} is not a valid field name")
    if spec.max_length < 1:
        raise FieldSetError(f"field set {set_name!r}: {spec.name!r} needs a positive max_length")
    return spec


def _resolve(name: str, declared: Mapping[str, Mapping], seen: tuple[str, ...]) -> FieldSet:
    if name in seen:
        raise FieldSetError(f"field set {name!r} includes itself ({' -> '.join((*seen, name))})")
    if name not in declared:
        raise FieldSetError(f"unknown field set {name!r}")
    raw = declared[name]
    if ("fields" in raw) == ("include" in raw):
        raise FieldSetError(f"field set {name!r} needs exactly one of 'fields' or 'include'")
    if "fields" in raw:
        fields = tuple(_field_spec(name, field) for field in raw["fields"])
    else:
        fields = tuple(
            spec
            for included in raw["include"]
            for spec in _resolve(included, declared, (*seen, name)).fields
        )
    names = [spec.name for spec in fields]
    if len(names) != len(set(names)) or not names:
        raise FieldSetError(f"field set {name!r} has no fields or repeats a field name")
    if raw["retention_class"] not in RETENTION:
        raise FieldSetError(
            f"field set {name!r}: retention class {raw['retention_class']!r} is not in "
            "config.retention.RETENTION"
        )
    return FieldSet(name, raw["title"], raw["purpose"], raw["retention_class"], fields)


def load_field_sets(declared: Mapping[str, Mapping]) -> dict[str, FieldSet]:
    """Check and load every declared field set. Raises FieldSetError."""
    return {name: _resolve(name, declared, ()) for name in declared}


FIELD_SET_REGISTRY: dict[str, FieldSet] = load_field_sets(FIELD_SETS)


def get_field_set(name: str | None) -> FieldSet:
    """The field set called ``name``. Raises FieldSetError if there is none."""
    try:
        return FIELD_SET_REGISTRY[name]  # type: ignore[index]
    except KeyError:
        raise FieldSetError(f"unknown field set {name!r}") from None


def field_set_choices() -> list[tuple[str, str]]:
    """``(name, title)`` pairs, e.g. for the agent's "what to ask for" menu."""
    return [(fs.name, fs.title) for fs in FIELD_SET_REGISTRY.values()]


def validate_value(spec: FieldSpec, raw: str | None, today: date) -> str:
    """Check one typed value against its spec and return it normalised ('' if optional and
    empty). Raises FieldValueError with the message to show the customer."""
    value = (raw or "").strip()
    if not value:
        if spec.required:
            raise FieldValueError(spec.message_if_empty)
        return ""
    name = plain_label(spec.label)
    rules = spec.kind_rules
    card_message = gettext(
        "%(name)s looks like it contains a card number. Never type card details here.", name=name
    )
    # The card-number detector reads through every spelling (odd spaces, dots, dashes,
    # zero-width characters, full-width digits: ``portal.card_numbers``), so what is typed is
    # checked as typed, and the normalised value is checked again below: a value that passes
    # here passes the service's second look at it too (it calls this same function).
    # Structured fields (phone, IBAN) are not refused up front, since a real value can pass the
    # Luhn check by chance; but if one is invalid anyway and holds a card number, say so.
    looks_like_card = contains_pan(value)
    if looks_like_card and (rules.free_text or len(value) > spec.max_length):
        raise FieldValueError(card_message)
    if len(value) > spec.max_length:
        raise FieldValueError(
            gettext(
                "%(name)s must be %(most)d characters or fewer", name=name, most=spec.max_length
            )
        )
    try:
        if rules.needs_today:
            normalised = rules.normalise(value, spec.label, today)
        else:
            normalised = rules.normalise(value, spec.label)
    except FieldValueError:
        if looks_like_card:
            raise FieldValueError(card_message) from None
        raise
    if rules.free_text and contains_pan(normalised):
        raise FieldValueError(card_message)
    return normalised
