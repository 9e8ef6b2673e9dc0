"""Every word a customer reads is marked for translation, and the Welsh catalogue is whole.

- customer templates (templates/customer/), the messages sent to customers
  (templates/messages/, staff notices excepted), the error pages and the shared page frame:
  no visible text outside ``_()`` / ``gettext`` / ``ngettext`` / ``{% trans %}``. The template is
  read with Jinja's own lexer and parser: literal text between tags (and the visible
  attributes ``alt``, ``title``, ``placeholder``, ``aria-label``) must hold no words, and no
  string constant that reads as words may be printed. A negative twin proves the check sees an
  unmarked string. The staff templates pass the same check (English only, no Welsh asked);
- the Welsh catalogue translates every message the sources mark, keeps each placeholder, and
  its compiled .mo is the one its .po gives (both are committed: docs/languages.md);
- staff words that come from Python (the staff forms' labels, choices and messages, the word
  tables of statuses and timeline events) are marked, so they are in the extracted catalogue
  (no Welsh asked of them either); no ``flash(...)`` in portal/ shows a bare string or f-string.
"""

from __future__ import annotations

import ast
import inspect
import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from jinja2 import Environment, nodes
from wtforms import Form
from wtforms.fields.core import UnboundField

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = PROJECT_ROOT / "templates"
WELSH_PO = PROJECT_ROOT / "translations" / "cy" / "LC_MESSAGES" / "messages.po"
WELSH_MO = WELSH_PO.with_suffix(".mo")
TEMPLATE_CATALOGUE = PROJECT_ROOT / "translations" / "messages.pot"

#: Staff-only messages (security notices go to staff, in English).
STAFF_MESSAGES = {"security_notice_email.html", "security_notice_email.txt"}
CUSTOMER_TEMPLATES = sorted(
    [
        *TEMPLATES.glob("customer/*.html"),
        *(p for p in TEMPLATES.glob("messages/*") if p.name not in STAFF_MESSAGES),
        *TEMPLATES.glob("errors/*.html"),
        TEMPLATES / "public" / "accessibility.html",
        TEMPLATES / "_macros" / "forms.html",
        TEMPLATES / "base.html",
    ]
)
#: Staff pages ship in English only, but their words are marked too (docs/languages.md), so the
#: same check runs over them; no Welsh is asked of them.
STAFF_DIRECTORIES = ("agent", "backoffice", "auth", "dev", "api", "_macros")
STAFF_TEMPLATES = sorted(
    path
    for directory in STAFF_DIRECTORIES
    for path in TEMPLATES.glob(f"{directory}/*.html")
    if path not in CUSTOMER_TEMPLATES
)
GETTEXT_CALLS = frozenset({"_", "gettext", "ngettext", "pgettext", "npgettext"})
VISIBLE_ATTRIBUTES = frozenset({"alt", "title", "placeholder", "aria-label", "value"})
#: A placeholder for every ``{{ ... }}``: letters-free, so printed values never count as words.
HOLE = "\x00"
#: Where a block tag stood: text either side of it is not one sentence.
BREAK = "\x01"
#: Names, not words: the same in every language.
NAMES = frozenset({"Postern"})
#: A lone lowercase word between tags is a CSS class or a data value (``{% block body_class
#: %}customer{% endblock %}``), not something a customer reads.
DATA_WORD = re.compile(r"^[a-z][a-z0-9_-]*$")
#: Several classes (``staff agent-console``): after the first, each holds a hyphen, as prose
#: words seldom do.
CLASS_LIST = re.compile(r"^[a-z][a-z0-9_-]*( [a-z][a-z0-9_]*-[a-z0-9_-]+)+$")
#: Attributes a macro writes into the tag that calls it (`` aria-invalid="true"``): markup.
ATTRIBUTES_ONLY = re.compile(r'^([a-z][a-z-]*="[^"]*" ?)+$')
WORDS = re.compile(r"[^\W\d_]{2,}")
# A printed string constant "reads as words" when it starts with a capital followed by small
# letters, or holds a space between letters: 'Day', 'Next step'; not 'sent', 'input-width-2'.
PROSE_CONSTANT = re.compile(r"^[A-Z][a-z]|[A-Za-z] [A-Za-z]")


def _environment() -> Environment:
    return Environment(extensions=["jinja2.ext.i18n"], autoescape=True)


class _VisibleText(HTMLParser):
    """Text nodes and visible attribute values of (template-shaped) HTML."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0  # inside <script> or <style>

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            # ``value`` is shown only on an input button; elsewhere (hidden inputs, radios, a
            # <button>'s name=value pair) it is data.
            shown = name != "value" or (
                tag == "input" and dict(attrs).get("type") in ("submit", "button", "reset")
            )
            if name in VISIBLE_ATTRIBUTES and value and shown:
                self.found.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip:
            self.found.append(data)


def _literal_text(source: str, environment: Environment) -> str:
    """The template with every tag, comment and ``{{ }}`` taken out (printed values become
    ``HOLE``): the HTML (or plain text) a translator could not reach."""
    parts = []
    in_variable = in_trans = after_block_begin = False
    for _, token_type, value in environment.lex(source):
        if token_type == "data" and not in_variable and not in_trans:
            parts.append(value)
        elif token_type == "variable_begin":
            in_variable = True
            parts.append(HOLE)
        elif token_type == "variable_end":
            in_variable = False
        elif token_type == "block_begin":
            parts.append(BREAK)
        elif token_type == "name" and after_block_begin:
            # {% trans %}...{% endtrans %} is marked: its text is the message id.
            in_trans = value in ("trans", "pluralize") or (in_trans and value != "endtrans")
        if token_type != "whitespace":
            after_block_begin = token_type == "block_begin"
    return "".join(parts)


def _unmarked_constants(tree: nodes.Template) -> list[str]:
    """String constants that read as words and are printed or set outside a gettext call."""
    found = []

    def visit(node, inside_gettext: bool, printable: bool):
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            inside_gettext = inside_gettext or node.node.name in GETTEXT_CALLS
        if isinstance(node, nodes.Compare):
            printable = False  # capture.status == 'succeeded': a comparison, never shown
        if isinstance(node, nodes.Call) and not inside_gettext:
            name = getattr(node.node, "name", getattr(node.node, "attr", ""))
            if name in ("url_for", "sri", "csp_nonce") or name.startswith("part_"):
                printable = False  # addresses and ids, never words
        if (
            isinstance(node, nodes.Const)
            and isinstance(node.value, str)
            and printable
            and not inside_gettext
            and PROSE_CONSTANT.search(node.value)
        ):
            found.append(node.value)
        for child in node.iter_child_nodes():
            visit(child, inside_gettext, printable)

    for node in tree.find_all((nodes.Output, nodes.Assign, nodes.For, nodes.CallBlock)):
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    visit(child, False, True)
        else:
            visit(node, False, True)
    return found


def unmarked_strings(source: str, *, html: bool = True) -> list[str]:
    """Every piece of visible text in a template that is not marked for translation."""
    environment = _environment()
    text = _literal_text(source, environment)
    if html:
        parser = _VisibleText()
        parser.feed(text)
        pieces = parser.found
    else:
        pieces = [text]
    words = []
    for piece in pieces:
        for part in piece.split(BREAK):
            plain = " ".join(part.replace(HOLE, " ").split())
            found = WORDS.findall(plain)
            data_word = (
                HOLE not in part and (DATA_WORD.match(plain) or CLASS_LIST.match(plain))
            ) or ATTRIBUTES_ONLY.match(plain)
            if found and not set(found) <= NAMES and not data_word:
                words.append(plain)
    constants = _unmarked_constants(environment.parse(source))
    return words + [value for value in constants if value not in NAMES]


@pytest.mark.parametrize(
    "path", CUSTOMER_TEMPLATES, ids=[str(p.relative_to(TEMPLATES)) for p in CUSTOMER_TEMPLATES]
)
def test_every_customer_facing_word_is_marked_for_translation(path):
    found = unmarked_strings(path.read_text(encoding="utf-8"), html=path.suffix == ".html")
    assert not found, f"{path.relative_to(PROJECT_ROOT)}: not marked for translation: {found}"


@pytest.mark.parametrize(
    "path", STAFF_TEMPLATES, ids=[str(p.relative_to(TEMPLATES)) for p in STAFF_TEMPLATES]
)
def test_every_staff_word_is_marked_for_translation(path):
    found = unmarked_strings(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(PROJECT_ROOT)}: not marked for translation: {found}"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("<p>Pay now</p>", ["Pay now"]),
        ("<p>{{ _('Pay now') }}</p>", []),
        ("<p>{{ amount }} received</p>", ["received"]),
        ("<p>{{ _('%(amount)s received', amount=amount) }}</p>", []),
        ("<img alt=\"Our logo\" src=\"{{ url_for('static', filename='x.png') }}\">", ["Our logo"]),
        ("<h2>{{ 'Next steps' if many else 'Next step' }}</h2>", ["Next steps", "Next step"]),
        ("<h2>{{ _('Next steps') if many else _('Next step') }}</h2>", []),
        ("{% set heading = 'Details received' %}<h1>{{ heading }}</h1>", ["Details received"]),
        ("{% for p, label in [('day', 'Day')] %}{{ label }}{% endfor %}", ["Day"]),
        ("{% if capture.status == 'Succeeded now' %}<p>{{ x }}</p>{% endif %}", []),
        ('<div class="field-error" data-state="{{ state }}"></div>', []),
        ("{# A comment in English is fine #}<p>{{ _('Fine') }}</p>", []),
        ('<button type="submit">{% trans %}Start{% endtrans %}</button>', []),
        ("{% block body_class %}staff agent-console{% endblock %}", []),
        ("<p>sent to the customer</p>", ["sent to the customer"]),
        ('<input{% if bad %} aria-invalid="true"{% endif %}>', []),
        ('{% if ids %} aria-describedby="{{ ids }}"{% endif %}', []),
        ("<p>{% if x %}Not yet confirmed{% endif %}</p>", ["Not yet confirmed"]),
    ],
)
def test_the_check_finds_an_unmarked_string_and_only_that(source, expected):
    assert unmarked_strings(source) == expected


def test_the_check_reads_plain_text_messages_too():
    assert unmarked_strings("Hello,\n\n{{ link_url }}\n", html=False) == ["Hello,"]
    assert unmarked_strings("{{ _('Hello,') }}\n\n{{ link_url }}\n", html=False) == []


# -- the Welsh catalogue ------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|<[^>]+>")


def _welsh():
    with WELSH_PO.open("rb") as handle:
        return read_po(handle)


#: Python only staff read (forms, word tables of statuses and events): marked, not translated.
STAFF_PYTHON = (
    "portal/agent/**.py",
    "portal/auth/**.py",
    "portal/backoffice/**.py",
    "portal/live_status/**.py",
    "portal/reporting/**.py",
    "portal/payments/staff_words.py",
    "portal/payments/standing.py",
    "portal/refunds/**.py",
    "portal/disputes/wording.py",
    "portal/capture/kinds.py",
    "portal/security/validators.py",
    "portal/api_keys/scopes.py",
    "portal/hooks/catalogue.py",
    "portal/sso/**.py",
    "portal/staff/**.py",
    # Staff-side services whose refusals staff read (marked where raised, translated where
    # shown); the API and the CLI keep them in English.
    "portal/api_keys/service.py",
    "portal/capture/request_rules.py",
    "portal/capture/service.py",
    "portal/delivery/destinations.py",
    "portal/hooks/endpoints.py",
    "portal/money.py",
)


def _marked_in_sources() -> set:
    # The customer's side only: staff templates and staff Python may be marked before anyone
    # translates them.
    method_map = [
        *((pattern, "ignore") for pattern in STAFF_PYTHON),
        ("portal/**.py", "python"),
        ("config/field_sets.py", "portal.customer.configured_words.extract"),
    ] + [(str(path.relative_to(PROJECT_ROOT)), "jinja2") for path in CUSTOMER_TEMPLATES]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(PROJECT_ROOT), method_map, keywords=keywords):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _first(message_id):
    return message_id if isinstance(message_id, str) else message_id[0]


def test_every_marked_customer_message_has_a_welsh_translation():
    catalogue = _welsh()
    customer = _marked_in_sources()
    translated = {_first(m.id) for m in catalogue if m.id}
    missing = sorted(message for message in customer - translated if message.strip())
    assert not missing, "run the update in docs/languages.md and translate: " + repr(missing)
    # Staff-only words may stay untranslated (empty, or fuzzy and so unused): English shows.
    wanted = [m for m in catalogue if m.id and _first(m.id) in customer]
    empty = [m.id for m in wanted if not (m.string if isinstance(m.string, str) else all(m.string))]
    assert not empty, empty
    assert not [m.id for m in wanted if m.fuzzy], "fuzzy entries are not used"


def test_every_welsh_translation_keeps_the_placeholders_and_markup():
    for message in _welsh():
        if not message.id or message.fuzzy:
            continue  # a fuzzy entry is never compiled in (only staff words are left so)
        source = message.id if isinstance(message.id, str) else message.id[1]
        strings = [message.string] if isinstance(message.string, str) else message.string
        for string in filter(None, strings):  # untranslated staff words show in English
            assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(source)), (
                message.id
            )


def _catalogue_ids() -> set:
    with TEMPLATE_CATALOGUE.open("rb") as handle:
        return {_first(m.id) for m in read_po(handle) if m.id}


def _staff_word_tables() -> dict[str, list[str]]:
    """Every word table a staff page shows, by name: its words (refund reasons: the first of
    each pair)."""
    from portal.backoffice import display
    from portal.capture import identity, kinds
    from portal.disputes import wording as dispute_words
    from portal.live_status import wording as status_words
    from portal.payments import staff_words, standing
    from portal.refunds import wording as refund_words
    from portal.reporting import payment_columns, timeline_words

    return {
        "DECLINE_WORDS": [*staff_words.DECLINE_WORDS.values(), staff_words.GENERIC_DECLINE_WORDS],
        "PAYMENT_STATUS_WORDS": list(staff_words.PAYMENT_STATUS_WORDS.values()),
        "THREE_D_SECURE_WORDS": list(staff_words.THREE_D_SECURE_WORDS.values()),
        "ATTEMPT_OUTCOME_WORDS": list(staff_words.ATTEMPT_OUTCOME_WORDS.values()),
        "payment standing LABELS": list(standing.LABELS.values()),
        "ACTION_WORDS": list(timeline_words.ACTION_WORDS.values()),
        "IDENTITY_ATTEMPT_WORDS": list(timeline_words.IDENTITY_ATTEMPT_WORDS.values()),
        "WEBHOOK_EVENT_WORDS": list(timeline_words.WEBHOOK_EVENT_WORDS.values()),
        "WEBHOOK_OUTCOME_WORDS": list(timeline_words.WEBHOOK_OUTCOME_WORDS.values()),
        "request status LABELS": [
            *status_words.LABELS.values(),
            status_words.STARTED_LABEL,
            status_words.UNCHECKED_LABEL,
        ],
        "request status DETAILS": [*status_words.DETAILS.values(), status_words.UNCHECKED_DETAIL],
        "status REASONS": list(status_words.REASONS.values()),
        "STEP_STATE_WORDS": list(status_words.STEP_STATE_WORDS.values()),
        "refund REASONS": [words for words, _ in refund_words.REASONS.values()],
        "refund STATUS_WORDS": list(refund_words.STATUS_WORDS.values()),
        "refund FAILURE_WORDS": list(refund_words.FAILURE_WORDS.values()),
        "dispute REASON_WORDS": list(dispute_words.REASON_WORDS.values()),
        "dispute STATUS_WORDS": list(dispute_words.STATUS_WORDS.values()),
        "dispute ENDING_WORDS": list(dispute_words.ENDING_WORDS.values()),
        "PAYMENT_FILTERS": list(payment_columns.PAYMENT_FILTERS.values()),
        "kinds": [*kinds.KINDS.values(), *kinds.CHANNELS.values()],
        "identity ITEMS": list(identity.ITEMS.values()),
        "back-office menu": [label for _, label, _ in display.NAV_ITEMS],
    }


def test_every_staff_word_table_entry_is_in_the_catalogue():
    """Word tables stay plain ``str`` (exports, the API and audit details keep English) and are
    marked with ``N_``: each of their words is a message id, translated where a page shows it."""
    catalogue = _catalogue_ids()
    missing = {
        name: [words for words in table if words not in catalogue]
        for name, table in _staff_word_tables().items()
    }
    missing = {name: words for name, words in missing.items() if words}
    assert not missing, "mark them with N_ and run make translations: " + repr(missing)
    assert all(type(words) is str for table in _staff_word_tables().values() for words in table), (
        "word tables hold plain str: lazy text must never reach JSON, CSV or the audit trail"
    )


def _staff_form_classes() -> list[type]:
    import portal.backoffice.views  # noqa: F401  (first: the re-authentication views need bp)
    from portal.agent import forms as agent_forms
    from portal.auth import forms as auth_forms
    from portal.auth import passkey_forms
    from portal.backoffice import (
        action_forms,
        api_key_forms,
        filter_forms,
        reauth,
        sso_reauth,
        webhook_forms,
    )

    modules = (
        agent_forms,
        auth_forms,
        passkey_forms,
        action_forms,
        api_key_forms,
        filter_forms,
        reauth,
        sso_reauth,
        webhook_forms,
    )
    return [
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, (Form, FlaskForm)) and cls.__module__ == module.__name__
    ]


def _form_words(cls: type) -> list[tuple[str, object]]:
    """(where, text) for every label, choice and validator message a form class declares."""
    words = []
    for name in dir(cls):
        field = getattr(cls, name)
        if not isinstance(field, UnboundField):
            continue
        where = f"{cls.__name__}.{name}"
        label = field.args[0] if field.args else field.kwargs.get("label")
        if label is not None:
            words.append((where, label))
        choices = field.kwargs.get("choices") or []
        words += [(f"{where} choice", choice.label) for choice in choices]
        for validator in field.kwargs.get("validators") or []:
            message = getattr(validator, "message", None)
            if message is not None:
                words.append((f"{where} {type(validator).__name__}", message))
    return words


def test_every_staff_form_word_is_marked_and_in_the_catalogue():
    """Labels, choices and messages of the staff forms are ``lazy_gettext`` (translated when
    the page is drawn, in its language) and their message ids are in the catalogue."""
    classes = _staff_form_classes()
    assert len(classes) > 20, [cls.__name__ for cls in classes]
    catalogue = _catalogue_ids()
    words = [item for cls in classes for item in _form_words(cls)]
    assert any(where == "LoginForm.username" for where, _ in words)
    unmarked = [(where, text) for where, text in words if not isinstance(text, LazyString)]
    assert not unmarked, "use lazy_gettext from portal.i18n: " + repr(unmarked)
    missing = [(where, text._args[0]) for where, text in words if text._args[0] not in catalogue]
    assert not missing, "run make translations: " + repr(missing)


def _unmarked_flashes(source: str) -> list[int]:
    """Lines of ``flash(...)`` calls whose message is a bare string or an f-string: it must be
    ``gettext``/``ngettext`` (with named placeholders), or a constant marked ``N_`` and
    translated where flashed."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name | ast.Attribute)
        and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) == "flash"
        and node.args
        and (
            isinstance(node.args[0], ast.JoinedStr)
            or (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))
        )
    ]


def test_no_flashed_message_is_a_bare_string():
    unmarked = {
        str(path.relative_to(PROJECT_ROOT)): lines
        for path in sorted((PROJECT_ROOT / "portal").rglob("*.py"))
        if (lines := _unmarked_flashes(path.read_text(encoding="utf-8")))
    }
    assert not unmarked, "flash(gettext(...)) from portal.i18n: " + repr(unmarked)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('flash("Saved.", "success")', [1]),
        ('flash(f"Saved {name}.", "success")', [1]),
        ('flask.flash("Saved.")', [1]),
        ('flash(gettext("Saved."), "success")', []),
        ("flash(gettext(LOCKED), 'error')", []),
        ("flash(message, 'success')", []),
    ],
)
def test_the_flash_check_finds_a_bare_string_and_only_that(source, expected):
    assert _unmarked_flashes(source) == expected


def _key(message_id):
    return tuple(message_id) if isinstance(message_id, list) else message_id


def test_the_committed_mo_is_compiled_from_the_committed_po():
    with WELSH_MO.open("rb") as handle:
        compiled = {_key(m.id): m.string for m in read_mo(handle) if m.id}
    expected_buffer = BytesIO()
    write_mo(expected_buffer, _welsh())
    expected_buffer.seek(0)
    expected = {_key(m.id): m.string for m in read_mo(expected_buffer) if m.id}
    assert compiled == expected, (
        "compile again: pybabel compile -d translations (docs/languages.md)"
    )


def test_the_welsh_text_message_uses_gsm_7_only():
    """Written Welsh has ŵ, ŷ, â ... outside GSM-7: one in the SMS would make it UCS-2."""
    from portal.delivery.wording import sms_length

    sms = next(
        m for m in _welsh() if isinstance(m.id, str) and "secure link from our call." in m.id
    )
    assert sms_length(sms.string).encoding == "GSM-7", sms.string
