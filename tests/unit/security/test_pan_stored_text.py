"""What Postern stores from outside is scrubbed first (User-Agent and other headers), and the
text staff type loses its control and bidirectional formatting characters."""

from __future__ import annotations

import pytest

from portal.card_numbers import contains_pan
from portal.security.input import tidy_typed_text
from portal.security.redaction import scrub_stored_text
from tests.support.card_numbers import ASSESSED_SPELLINGS


@pytest.mark.parametrize("spelling", ASSESSED_SPELLINGS)
def test_a_user_agent_keeps_its_words_and_loses_the_card_number(spelling):
    stored = scrub_stored_text(f"Mozilla/5.0 (X11; Linux) {spelling} Firefox/140.0", 255)
    assert stored.startswith("Mozilla/5.0 (X11; Linux) ")
    assert stored.endswith(" Firefox/140.0")
    assert "[REDACTED-PAN]" in stored and not contains_pan(stored)


def test_a_long_header_is_cut_to_the_column_and_leaves_no_part_of_a_number_at_the_cut():
    stored = scrub_stored_text("A" * 250 + " 4111 1111 1111 1111", 255)
    assert len(stored) <= 255 and stored == "A" * 250
    huge = scrub_stored_text("x" * 100_000 + "4111111111111111", 255)
    assert huge == "x" * 255


def test_a_card_number_cut_by_the_bounded_read_leaves_no_digits():
    text = "ua " + " ".join(["4111"] * 400)  # far longer than is ever read
    stored = scrub_stored_text(text, 255)
    assert not any(ch.isdigit() for ch in stored.replace("[REDACTED-PAN]", ""))


def test_control_and_bidi_characters_never_reach_a_stored_header():
    assert scrub_stored_text("a\x1b[31mb\x07c\u202ed\u2066e\r\nf", 255) == "a[31mbcde f"
    assert scrub_stored_text("", 255) is None and scrub_stored_text(None, 255) is None
    assert scrub_stored_text("\x07\u202e", 255) is None


def test_secrets_in_a_header_are_masked_too():
    assert "sk_live" not in scrub_stored_text("curl sk_live_abcdefghijklmnop", 255)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ACC\t42", "ACC 42"),
        ("line one\r\nline two", "line one line two"),
        ("bell\x07 and escape\x1b[2J", "bell and escape[2J"),
        ("\u202eevil\u202c", "evil"),
        ("\u2066isolated\u2069 \u200emark\u200f \u061carabic", "isolated mark arabic"),
        ("C1 \x85next \x9bcsi", "C1  next csi"),
        ("del\x7f", "del"),
        ("plain text, £12.50 — café", "plain text, £12.50 — café"),
    ],
)
def test_tidy_typed_text_removes_controls_and_bidi_characters(typed, kept):
    assert tidy_typed_text(typed) == kept


def test_tidying_leaves_ordinary_non_ascii_text_alone():
    for text in ("Zoë Ó Briain", "東京都", "مرحبا", "a\u00a0b", "emoji 💳"):
        assert tidy_typed_text(text) == text
