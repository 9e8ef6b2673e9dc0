"""Request input that no person means to type, dealt with before any view runs.

- NUL characters in form fields or the query string are refused: PostgreSQL cannot store NUL
  in text, so without this one such character reaching a query would be a 500; with it, every
  form and route answers a plain 400 (``BadCharacters``) naming the field, except to a
  customer, whose page names no field.
- Control characters (tab, BEL, ESC and every other C0/C1 control) and bidirectional overrides,
  embeddings, isolates and marks are taken out of the text staff and agents post
  (``tidy_typed_text``), so they are never stored, shown or exported: a right-to-left override
  can make a reference read as something else in the back office or a spreadsheet, and an ESC
  can drive a terminal that prints an export. This is the one place that does it, for every
  staff form at once; services that take staff text from elsewhere call ``tidy_typed_text``
  too (``portal.staff_text``).
"""

from __future__ import annotations

import re
import unicodedata

from flask import Flask, jsonify, render_template, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest

from portal.errors import own_error_renderer, wants_json

#: Bidirectional formatting characters: embeddings and overrides (U+202A-202E), isolates
#: (U+2066-2069), and the implicit marks (LRM, RLM, ALM).
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
#: Whitespace controls become a space (so two words never run together); other controls go.
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\x0b\x0c\x1c-\x1f\x85]+")
#: Blueprints whose forms are typed by staff and agents (the customer's pages validate their
#: own fields; webhooks and CSP reports are machine input, each with its own checks).
STAFF_BLUEPRINTS = frozenset({"auth", "agent", "backoffice", "devtools"})
#: Posted fields left exactly as sent: secrets compared with a stored hash, never stored or
#: shown (changing them would change the password), and the CSRF token.
_UNTOUCHED_FIELDS = re.compile(r"(?i)password|csrf_token")


def _removed(ch: str) -> bool:
    return ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc"


def tidy_typed_text(text: str) -> str:
    """``text`` without control or bidirectional formatting characters: tabs, line breaks and
    other whitespace controls become one space, the rest (BEL, ESC, DEL, C1 controls, bidi
    overrides, isolates and marks) are removed."""
    if text.isprintable() and not BIDI_CONTROLS.intersection(text):
        return text  # the usual case, at C speed
    text = _WHITESPACE_CONTROLS.sub(" ", text)
    return "".join(ch for ch in text if not _removed(ch))


def _tidied_form(form) -> ImmutableMultiDict | None:
    """The posted form with staff text tidied, or None when nothing needed it."""
    changed, items = False, []
    for key, value in form.items(multi=True):
        if not _UNTOUCHED_FIELDS.search(key):
            tidied = tidy_typed_text(value)
            changed = changed or tidied != value
            value = tidied
        items.append((key, value))
    return ImmutableMultiDict(items) if changed else None


def _field_with_nul(values) -> str | None:
    for key, value in values.items(multi=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "")[:40] or "(unnamed)"
    return None


class BadCharacters(BadRequest):
    """A NUL character in ``field``: raised before any view, so that a blueprint may answer it
    its own way (the customer's pages do, in the language of the link's request)."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field


def bad_characters_refusal(error: BadCharacters):
    """The 400 naming the field: the integration API's error shape, JSON for a script, else
    the page (in the language chosen for this request; on a customer's page it names no box,
    as the form's name for a box is not what the customer read)."""
    own = own_error_renderer()
    if own is not None:  # the integration API: its one error shape
        return own(400, f"{error.field}: contains a NUL character. Remove it and send again.")
    if wants_json():
        message = f"{error.field}: contains a NUL character"
        return jsonify(error="bad_characters", field=error.field, message=message), 400
    return render_template("errors/bad_characters.html", field=error.field), 400


def init_input_checks(app: Flask) -> None:
    app.register_error_handler(BadCharacters, bad_characters_refusal)

    @app.before_request
    def _refuse_nul_characters():
        form_post = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
        field = _field_with_nul(request.args) or (
            _field_with_nul(request.form) if form_post else None
        )
        if field is not None:
            raise BadCharacters(field)

    @app.before_request
    def _tidy_staff_text():
        # After the NUL check above (registered first): a NUL is refused, not tidied away.
        if request.blueprint not in STAFF_BLUEPRINTS or request.method != "POST":
            return
        if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return
        tidied = _tidied_form(request.form)
        if tidied is not None:
            request.form = tidied  # werkzeug caches the parsed form here; views read this copy
