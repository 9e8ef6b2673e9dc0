"""The languages Postern speaks to customers in, and the one Babel set-up (Flask-Babel).

Customer pages, errors met on them, the link message (SMS and email), receipts and refund
notices come in English and Welsh. Staff pages are marked for translation too but ship in
English only: a staff request always renders in English. Which language a customer request
renders in is chosen by the HTTP layer (``portal.customer.language``), which passes its
selector in here; a message rendered outside a request (the outbox worker) names the language
itself with ``in_language``.

Catalogues live in translations/<code>/LC_MESSAGES/messages.po, compiled to the .mo beside it
and both committed (docs/languages.md; a test fails when the .mo is older than its .po).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from flask_babel import Babel, force_locale, get_locale
from flask_babel import gettext as gettext
from flask_babel import ngettext as ngettext
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape

from config.settings import PROJECT_ROOT

ENGLISH, WELSH = "en", "cy"
#: Code -> the language's name in that language (what the switch link and the agent's form show).
LANGUAGES = {ENGLISH: "English", WELSH: "Cymraeg"}
DEFAULT_LANGUAGE = ENGLISH
#: The ``lang`` attribute of a page in each language (GOV.UK: "en-GB"... and "cy").
HTML_LANG = {ENGLISH: "en-GB", WELSH: "cy"}
TRANSLATIONS_DIR = PROJECT_ROOT / "translations"

babel = Babel()


class PlainLazyString(LazyString):
    """A message translated when it is used, and plain text when printed: a template escapes
    it like any ``str`` (Flask-Babel's own would be trusted as markup)."""

    def __html__(self) -> Markup:
        return escape(str(self))


def lazy_gettext(string: str, **variables) -> PlainLazyString:
    """``gettext(string, **variables)`` when the text is used, in that moment's language: for
    words defined once (a form's labels and messages) and shown later. Never for data that is
    serialised (JSON, CSV, audit details): those take ``str`` (``N_``)."""
    return PlainLazyString(gettext, string, **variables)


def N_(text: str) -> str:
    """Mark ``text`` for extraction without translating it yet: it is kept as the English
    message id and translated where it is shown (``gettext(text)``), in that page's language."""
    return text


def translated(text: str | None) -> str | None:
    """The ``translated`` filter: words that come from configuration or code (a field set's
    title, a payment message, a status in a staff word table), marked where they are written
    (``N_``) and translated here. Plain text, escaped when printed (``_()`` in a template would
    trust it as markup); None and "" stay as they are."""
    return gettext(str(text)) if text else text


#: Words that come from configuration (their defaults), listed here so extraction finds them.
CONFIGURED_WORDS = (N_("UK time"),)


def init_i18n(app: Flask, locale_selector: Callable[[], str | None]) -> None:
    """Bind Babel to ``app``: ``_``/``gettext``/``ngettext`` and ``{% trans %}`` in every
    template, the catalogues in translations/, ``locale_selector`` choosing per request
    (None means English). Reads no file until a string is translated."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    babel.init_app(app, locale_selector=locale_selector)


def language_or_default(code: str | None) -> str:
    """``code`` if Postern speaks it, else English."""
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    """The language strings are being translated into now ("en" outside any context)."""
    locale = get_locale()
    return language_or_default(locale.language if locale is not None else None)


@contextmanager
def in_language(code: str | None) -> Iterator[None]:
    """Translate into ``code`` (English if unknown) inside the block, whatever the request in
    flight speaks: a customer's message rendered on a staff page, or by the worker."""
    with force_locale(language_or_default(code)):
        yield


__all__ = [
    "N_",
    "DEFAULT_LANGUAGE",
    "ENGLISH",
    "HTML_LANG",
    "LANGUAGES",
    "WELSH",
    "babel",
    "current_language",
    "gettext",
    "in_language",
    "init_i18n",
    "language_or_default",
    "lazy_gettext",
    "ngettext",
    "translated",
]
