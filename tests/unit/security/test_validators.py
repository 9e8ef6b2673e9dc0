"""NoCardNumbers and NoControlCharacters: refuse what must not be typed, never echo it back."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField

from portal.security.validators import CARD_NUMBER_MESSAGE, NoCardNumbers, NoControlCharacters


class NoteForm(Form):
    note = StringField(validators=[NoCardNumbers()])


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "ref 4111-1111-1111-1111 thanks",
        "5555555555554444",
    ],
)
def test_card_numbers_are_refused_and_not_echoed(text):
    form = NoteForm(MultiDict({"note": text}))
    assert not form.validate()
    assert form.note.errors == [CARD_NUMBER_MESSAGE]
    assert "1111" not in form.note() and "4444" not in form.note()


@pytest.mark.parametrize(
    "text", ["ACC-1001", "Invoice 2024-0042", "4111111111111112", "", "07700 900123"]
)
def test_ordinary_text_passes(text):
    assert NoteForm(MultiDict({"note": text})).validate()


def test_message_is_plain_and_says_what_to_do():
    assert "card number" in CARD_NUMBER_MESSAGE
    assert "customer enters them on their own phone" in CARD_NUMBER_MESSAGE


class SearchForm(Form):
    term = StringField(validators=[NoControlCharacters("no control characters.")])


@pytest.mark.parametrize("text", ["a\x00b", "\u202eevil", "\ufeff", "tab\there", "\U000e0041"])
def test_control_and_invisible_characters_are_refused_and_not_echoed(text):
    form = SearchForm(MultiDict({"term": text}))
    assert not form.validate()
    assert form.term.errors == ["no control characters."]
    assert form.term.data == ""


@pytest.mark.parametrize("text", ["ACC-1001", "Zoë O'Brien", "日本語", ""])
def test_ordinary_text_has_no_control_characters(text):
    assert SearchForm(MultiDict({"term": text})).validate()
