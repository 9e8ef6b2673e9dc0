import pytest

from portal.delivery.destinations import (
    CARD_NUMBER_REFUSED,
    PHONE_HELP,
    mask_destination,
    normalise_destination,
    normalise_email,
    normalise_phone,
)


@pytest.mark.parametrize(
    "typed",
    [
        "07911 123456",
        "07911123456",
        "(07911) 123-456",
        "+44 7911 123456",
        "+447911123456",
        "447911123456",
        "0044 7911 123456",
        " 07911 123 456 ",
        "+44 (0)7911 123456",
    ],
)
def test_uk_mobile_numbers_in_every_usual_format(typed):
    assert normalise_phone(typed) == "+447911123456"


def test_ofcom_drama_numbers_are_accepted_for_demos_and_examples():
    assert normalise_phone("07700 900123") == "+447700900123"
    assert normalise_phone("+44 7700 900999") == "+447700900999"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+1 415 555 2671", "+14155552671"),  # US numbers may be mobile or fixed: allowed
        ("+49 1512 3456789", "+4915123456789"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("0033 6 12 34 56 78", "+33612345678"),
    ],
)
def test_international_mobile_numbers(typed, expected):
    assert normalise_phone(typed) == expected


def test_a_number_without_country_code_uses_the_default_region():
    assert normalise_phone("06 12 34 56 78", default_region="FR") == "+33612345678"


@pytest.mark.parametrize(
    "landline",
    ["020 7946 0018", "+44 20 7946 0018", "0161 496 0000", "0800 123 4567", "+33 1 23 45 67 89"],
)
def test_landlines_and_freephone_numbers_are_refused(landline):
    # A "text" to a UK landline is read aloud by text-to-speech: the secret link spoken out.
    with pytest.raises(ValueError, match="not a mobile number"):
        normalise_phone(landline)


@pytest.mark.parametrize("typed", ["", "   ", "hello", "0791112345", "+44 7911", "12", "x" * 80])
def test_invalid_numbers_get_the_plain_help(typed):
    with pytest.raises(ValueError) as problem:
        normalise_phone(typed)
    assert str(problem.value) == PHONE_HELP


def test_extensions_are_refused():
    with pytest.raises(ValueError, match="without an extension"):
        normalise_phone("+44 7911 123456 ext. 12")


@pytest.mark.parametrize(
    "card", ["4111 1111 1111 1111", "4111111111111111", "5555-5555-5555-4444", "378282246310005"]
)
def test_card_numbers_typed_as_a_phone_number_are_refused(card):
    with pytest.raises(ValueError) as problem:
        normalise_phone(card)
    assert str(problem.value) == CARD_NUMBER_REFUSED


def test_a_long_luhn_valid_international_mobile_number_is_not_mistaken_for_a_card():
    # +86 138 0013 8000 has 13 digits; with a leading + it is a phone number, not a PAN.
    assert normalise_phone("+8613800138000") == "+8613800138000"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("John.Smith@Example.COM", "John.Smith@example.com"),
        ("  j@example.com  ", "j@example.com"),
        ("jöhn@bücher.de", "jöhn@bücher.de"),
        ("user@xn--bcher-kva.de", "user@bücher.de"),
        ("用户@例子.广告", "用户@例子.广告"),
    ],
)
def test_email_addresses_are_normalised_including_international_ones(typed, expected):
    assert normalise_email(typed) == expected


@pytest.mark.parametrize(
    "typed", ["", "bad@", "a@b", "no-at-sign", "two@@example.com", "a b@x.com"]
)
def test_invalid_email_addresses_are_refused_in_plain_words(typed):
    with pytest.raises(ValueError) as problem:
        normalise_email(typed)
    message = str(problem.value)
    assert message and "Traceback" not in message


def test_card_numbers_in_an_email_address_are_refused():
    with pytest.raises(ValueError) as problem:
        normalise_email("4111111111111111@example.com")
    assert str(problem.value) == CARD_NUMBER_REFUSED


def test_normalise_destination_dispatches_by_channel():
    assert normalise_destination("sms", "07911 123456") == "+447911123456"
    assert normalise_destination("email", "A@Example.com") == "A@example.com"
    with pytest.raises(ValueError):
        normalise_destination("fax", "01234")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+447700900123", "+44 7••• ••• 123"),
        ("+447911123456", "+44 7••• ••• 456"),
        ("+33612345678", "+33 6••• •• 678"),
        ("+8613800138000", "+86 1••• •••• 000"),
    ],
)
def test_phone_masking_keeps_country_first_digit_and_last_three(value, masked):
    assert mask_destination("sms", value) == masked


def test_email_masking_keeps_first_letter_and_domain():
    assert mask_destination("email", "john.smith@example.com") == "j•••@example.com"
    assert mask_destination("email", "jöhn@bücher.de") == "j•••@bücher.de"


def test_masking_never_returns_the_value():
    for channel, value in [("sms", "+447911123456"), ("email", "ab@example.com")]:
        masked = mask_destination(channel, value)
        assert masked != value
        assert "911123" not in masked and "ab@" not in masked
    assert mask_destination("sms", "garbage") == "•••"
    assert mask_destination("email", "no-at") == "•••"


@pytest.mark.parametrize(
    ("channel", "typed"),
    [
        ("sms", "07911 123456"),
        ("sms", "07700 900123"),  # Ofcom's drama range
        ("sms", "+33 6 12 34 56 78"),
        ("email", "John.Smith@Example.com"),
    ],
)
def test_a_normalised_destination_carries_its_mask_and_is_not_parsed_again(
    channel, typed, monkeypatch
):
    """Proves: what normalise_destination returns equals the plain normalised string, masks as
    mask_destination masks that string, and given back (as the outbox is, after the form) is
    returned as it is without parsing the number again; copied it is a plain str."""
    import copy

    import phonenumbers

    normalised = normalise_destination(channel, typed)
    plain = str(normalised)
    assert normalised == plain and type(plain) is str
    assert mask_destination(channel, normalised) == mask_destination(channel, plain)
    parses = []
    real_parse = phonenumbers.parse
    monkeypatch.setattr(
        phonenumbers, "parse", lambda *a, **k: parses.append(a) or real_parse(*a, **k)
    )
    assert normalise_destination(channel, normalised) is normalised
    assert mask_destination(channel, normalised) == normalised.masked
    assert parses == []
    assert type(copy.deepcopy(normalised)) is str
    other = "email" if channel == "sms" else "sms"
    if other == "sms":  # the wrong channel's value is parsed as that channel's, and refused
        with pytest.raises(ValueError):
            normalise_destination(other, normalised)
