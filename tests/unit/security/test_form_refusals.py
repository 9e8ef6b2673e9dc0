"""What a staff form refuses, and what it then shows: the validators are built inside each test,
the way a form built per request builds them, so every rule is checked as it runs."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField
from wtforms.validators import Optional

from portal.security.validators import (
    CARD_NUMBER_MESSAGE,
    NoCardNumbers,
    NoControlCharacters,
    RefuseAndForget,
)


def _form_with(*validators):
    class OneField(Form):
        text = StringField(validators=list(validators))

    return OneField


@pytest.mark.parametrize(
    "text",
    ["4111 1111 1111 1111", "ref 4111.1111.1111.1111 thanks", "5555\u00a05555\u00a05555\u00a04444"],
)
def test_a_card_number_is_refused_with_the_card_message_and_not_shown_again(text):
    form = _form_with(NoCardNumbers())(MultiDict({"text": text}))
    assert not form.validate()
    assert form.text.errors == [CARD_NUMBER_MESSAGE]
    assert form.text.data == ""
    assert 'value=""' in form.text()


def test_a_card_number_is_refused_with_the_message_the_form_chose():
    form = _form_with(NoCardNumbers("No card numbers in a reference."))(
        MultiDict({"text": "4111111111111111"})
    )
    assert not form.validate()
    assert form.text.errors == ["No card numbers in a reference."]


@pytest.mark.parametrize("text", ["ACC-1001", "Invoice 2024-0042", "4111111111111112", ""])
def test_text_without_a_card_number_is_accepted_as_typed(text):
    form = _form_with(NoCardNumbers())(MultiDict({"text": text}))
    assert form.validate(), form.text.errors
    assert form.text.data == text


@pytest.mark.parametrize(
    "character",
    [
        "\x07",  # BEL (Cc)
        "\u202e",  # right-to-left override (Cf)
        "\ud800",  # a lone surrogate (Cs): no text a person types holds one
        "\ue000",  # private use (Co): renders as whatever a font decides
        "\U000f0000",  # supplementary private use (Co)
        "\u0378",  # unassigned (Cn)
        "\U000e0080",  # unassigned, in the tags block (Cn)
    ],
)
def test_control_private_and_unassigned_characters_are_refused_and_not_shown_again(character):
    form = _form_with(NoControlCharacters("Remove the hidden character."))(
        MultiDict({"text": f"ACC{character}1001"})
    )
    assert not form.validate()
    assert form.text.errors == ["Remove the hidden character."]
    assert form.text.data == ""
    assert "ACC" not in form.text()


@pytest.mark.parametrize("text", ["ACC-1001", "Zoë O'Brien", "日本語 テキスト", "😀 ok", ""])
def test_ordinary_text_in_any_script_is_not_a_control_character(text):
    form = _form_with(NoControlCharacters("Remove the hidden character."))(
        MultiDict({"text": text})
    )
    assert form.validate(), form.text.errors
    assert form.text.data == text


def test_a_field_left_out_of_the_post_is_not_checked_and_stays_optional():
    form = _form_with(Optional(), NoControlCharacters("x"), NoCardNumbers())(MultiDict())
    assert form.validate(), form.text.errors
    assert form.text.data is None


def test_any_rule_can_refuse_and_forget_with_its_own_words():
    refuse_shouting = RefuseAndForget(str.isupper, "Please do not shout.")
    form = _form_with(refuse_shouting)(MultiDict({"text": "HELLO"}))
    assert not form.validate()
    assert form.text.errors == ["Please do not shout."]
    assert form.text.data == ""
    assert _form_with(refuse_shouting)(MultiDict({"text": "hello"})).validate()
