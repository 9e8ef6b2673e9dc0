"""Public ids read over the phone: Crockford base32 in groups, typed back any which way."""

from __future__ import annotations

import re

import pytest

from portal.capture import links, public_ids

NEW_SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}$")


def test_new_ids_are_grouped_crockford_with_45_random_bits():
    drawn = {public_ids.new_public_id() for _ in range(500)}
    assert len(drawn) == 500
    assert all(NEW_SHAPE.match(public_id) for public_id in drawn)
    # Nothing a listener could mishear: no I, L, O or U, no lower case, no _.
    assert not set("".join(drawn)) & set("ILOUilou_")
    assert public_ids.RANDOM_BITS == 45 and len(public_ids.ALPHABET) == 32
    # Every character of the alphabet turns up: the draw uses all 32, so 5 bits each.
    assert set("".join(drawn).replace("-", "")) == set(public_ids.ALPHABET)


def test_links_uses_the_one_format():
    assert links.new_public_id is public_ids.new_public_id
    assert links.PUBLIC_ID_PATTERN.match("K7F-3QX-2M9")
    assert links.PUBLIC_ID_PATTERN.match("3l_lzxTZBH")  # issued before: still a stored id
    assert not links.PUBLIC_ID_PATTERN.match("k7f-3qx-2m9")  # stored upper case only


@pytest.mark.parametrize(
    "typed",
    [
        "K7F-3QX-2M9",
        "k7f-3qx-2m9",
        "K7F3QX2M9",
        "k7f 3qx 2m9",
        "  K7F - 3QX - 2M9 ",
        "K7F\u20113QX\u20132M9",  # a pasted non-breaking hyphen and an en dash
        "K7F\u00a03QX\u00a02M9",  # non-breaking spaces from a chat app
    ],
)
def test_typed_ids_are_read_the_crockford_way(typed):
    assert public_ids.candidates(typed) == ("K7F-3QX-2M9",)


def test_look_alikes_read_as_digits():
    assert public_ids.normalised("IL0-Oil-ABC") == "110-011-ABC"
    assert public_ids.normalised("o1i-l0O-2m9") == "011-100-2M9"


@pytest.mark.parametrize(
    "typed",
    ["", None, "K7F-3QX-2", "K7F-3QX-2M9A", "K7F-3QX-2MU", "K7F_3QX_2M9", "K7F.3QX.2M9", "x" * 500],
)
def test_what_cannot_be_an_id_looks_nothing_up(typed):
    assert public_ids.candidates(typed) == ()


def test_old_ids_resolve_only_exactly_as_stored():
    # Old ids are case-sensitive: folding their case would make two different ids one.
    assert public_ids.candidates("3l_lzxTZBH") == ("3l_lzxTZBH",)
    assert public_ids.candidates(" 3l_lzxTZBH ") == ("3l_lzxTZBH",)
    assert public_ids.candidates("3L_LZXTZBH") == ("3L_LZXTZBH",)  # another old id, not this one
    # An old id that also reads as a new one offers both; the finders prefer the exact one.
    assert public_ids.candidates("abc-defghj") == ("ABC-DEF-GHJ", "abc-defghj")
