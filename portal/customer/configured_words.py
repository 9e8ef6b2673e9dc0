"""The words customers read that live in configuration, not in code or templates: each field
set's title, purpose, labels, hints and "enter ..." messages (config/field_sets.py), how long
its data is kept (config/retention.py), and the name the summary gives each set
(``portal.capture.kinds.FIELD_SETS``).

Configuration stays plain data (config/ never imports portal/), so nothing there is marked:
instead this Babel extractor, named in babel.cfg, reads the loaded configuration and hands each
string to ``pybabel extract``. They are translated where they are shown (``gettext`` in
``portal.personal_data``, the ``translated`` template filter). A field set added to the
configuration is therefore extracted at once, and tests/unit/test_translations.py fails until
it is translated.
"""

from __future__ import annotations

from collections.abc import Iterator

from config.field_sets import FIELD_SETS
from config.retention import describe_retention
from portal.capture.kinds import FIELD_SETS as SUMMARY_NAMES

#: What of a field set, and of each of its fields, a customer reads.
SET_WORDS = ("title", "purpose")
FIELD_WORDS = ("label", "hint", "required_message")


def configured_words() -> list[str]:
    """Every customer-facing string of the configuration, once each, in a stable order."""
    found: dict[str, None] = {}
    for spec in FIELD_SETS.values():
        for key in SET_WORDS:
            found[spec[key]] = None
        for field in spec.get("fields", ()):
            for key in FIELD_WORDS:
                if field.get(key):
                    found[field[key]] = None
        found[describe_retention(spec["retention_class"])] = None
    for name in SUMMARY_NAMES.values():
        found[name] = None
    return list(found)


def extract(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel's extraction method (babel.cfg: ``[portal.customer.configured_words:extract:
    config/field_sets.py]``): the words of the loaded configuration, whatever the file says."""
    for word in configured_words():
        yield 1, "gettext", word, ["From configuration: portal/customer/configured_words.py"]
