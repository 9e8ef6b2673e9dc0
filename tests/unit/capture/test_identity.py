"""The identity check's normalisation, keyed hashing and the read-back code."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from portal.capture import identity
from portal.capture.identity import IdentityFormatError


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("SW1A 1AA", "SW1A1AA"),
        ("sw1a1aa", "SW1A1AA"),
        ("  sw1a  1aa ", "SW1A1AA"),
        ("ec1a\t1bb", "EC1A1BB"),
    ],
)
def test_postcode_normalisation(typed, expected):
    assert identity.normalise_postcode(typed) == expected


@pytest.mark.parametrize("typed", ["", "S", "SW1A-1AA", "SW1A 1AA!", "x" * 11])
def test_postcode_refuses_rubbish(typed):
    with pytest.raises(IdentityFormatError):
        identity.normalise_postcode(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("31/03/1980", "1980-03-31"),
        ("1/3/1980", "1980-03-01"),
        ("01-03-1980", "1980-03-01"),
        ("01.03.1980", "1980-03-01"),
        ("1980-03-31", "1980-03-31"),
        (" 29/02/2000 ", "2000-02-29"),
    ],
)
def test_date_of_birth_normalisation(typed, expected):
    assert identity.normalise_date_of_birth(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "31/02/1980",
        "29/02/1981",
        "1980/03/31",
        "03/31",
        "31 March 1980",
        "1899-12-31",
        "2999-01-01",
        "1980-3-31",
    ],
)
def test_date_of_birth_is_strict(typed):
    with pytest.raises(IdentityFormatError):
        identity.normalise_date_of_birth(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Smith", "smith"),
        ("O'Brien", "obrien"),
        ("O\u2019Brien", "obrien"),
        ("o brien", "obrien"),
        ("Smith-Jones", "smithjones"),
        ("Smith \u2013 Jones", "smithjones"),
        ("Bront\u00eb", "bronte"),
        ("M\u00dcLLER", "muller"),
        ("Stra\u00dfe", "strasse"),
        ("  Nguy\u1ec5n  ", "nguyen"),
    ],
)
def test_surname_normalisation(typed, expected):
    assert identity.normalise_surname(typed) == expected


@pytest.mark.parametrize("typed", ["", "   ", "-'-", "1234", "x" * 81])
def test_surname_refuses_rubbish(typed):
    with pytest.raises(IdentityFormatError):
        identity.normalise_surname(typed)


def test_answer_hash_is_an_hmac_with_the_pepper(app):
    with app.app_context():
        stored = identity.answer_hash("postcode", "sw1a 1aa")
        pepper = app.config["IDENTITY_PEPPER"].encode()
        expected = hmac.new(pepper, b"postcode:SW1A1AA", hashlib.sha256).hexdigest()
        assert stored == expected
        assert "SW1A" not in stored
        assert identity.answer_matches("postcode", "SW1A1AA", stored)
        assert not identity.answer_matches("postcode", "SW1A 1AB", stored)
        # The item type is part of the message: the same text under another item differs.
        assert identity.answer_hash("surname", "Smith") != identity.answer_hash("postcode", "SMITH")


def test_pepper_changes_the_hash(app_factory):
    first = app_factory(IDENTITY_PEPPER="pepper-one")
    second = app_factory(IDENTITY_PEPPER="pepper-two")
    with first.app_context():
        one = identity.answer_hash("date_of_birth", "31/03/1980")
    with second.app_context():
        two = identity.answer_hash("date_of_birth", "1980-03-31")
    assert one != two


def test_equivalent_answers_match(app):
    with app.app_context():
        stored = identity.answer_hash("date_of_birth", "31/03/1980")
        assert identity.answer_matches("date_of_birth", "1980-03-31", stored)
        stored = identity.answer_hash("surname", "O'Brien")
        assert identity.answer_matches("surname", "obrien", stored)
        with pytest.raises(IdentityFormatError):
            identity.answer_matches("date_of_birth", "yesterday", stored)


def test_readback_code_shape():
    codes = {identity.new_readback_code() for _ in range(300)}
    assert len(codes) > 250
    for code in codes:
        assert len(code) == 5
        assert all(ch in identity.READBACK_LETTERS for ch in code[:3])
        assert all(ch in identity.READBACK_DIGITS for ch in code[3:])
        assert not set(code) & set("BGILOQSZ018")
    assert identity.display_readback("KTW47") == "KTW 47"
