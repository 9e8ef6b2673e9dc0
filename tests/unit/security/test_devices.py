"""The device and place a person sees for each of their sessions."""

from __future__ import annotations

import pytest

from portal.security.devices import UNKNOWN_DEVICE, approximate_address, describe_device


@pytest.mark.parametrize(
    ("user_agent", "words"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/142.0.0.0 Safari/537.36",
            "Chrome on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Mobile Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Mac OS X",
        ),
        ("", UNKNOWN_DEVICE),
        (None, UNKNOWN_DEVICE),
        ("\x00\x01 nothing a parser knows", UNKNOWN_DEVICE),
    ],
)
def test_the_user_agent_becomes_a_few_words(user_agent, words):
    assert describe_device(user_agent) == words


def test_a_card_number_in_a_user_agent_is_never_stored():
    described = describe_device("4111111111111111/1.0 (Windows NT 10.0)")
    assert "4111" not in described
    assert len(describe_device("x" * 5000)) <= 80


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        (None, "Unknown"),
        ("not an address", "Unknown"),
    ],
)
def test_the_address_is_shown_masked_to_its_network(address, shown):
    assert approximate_address(address) == shown
