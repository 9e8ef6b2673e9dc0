"""The strength rules themselves: random values of the documented kinds always pass, with
margin; repeated, sequential, short and placeholder values never do."""

from __future__ import annotations

import base64
import os
import secrets
import string

import pytest

from config.secret_strength import (
    GENERATED_KEY,
    PROVIDER_CREDENTIAL,
    SERVICE_PASSWORD,
    estimated_bits,
    mostly_a_run,
    random_bytes_problem,
    secret_problem,
)

ALPHANUMERIC = string.ascii_letters + string.digits
DRAWS = 2000


@pytest.mark.parametrize(
    ("strength", "make"),
    [
        (GENERATED_KEY, lambda: secrets.token_urlsafe(32)),
        (GENERATED_KEY, lambda: secrets.token_hex(32)),
        (GENERATED_KEY, lambda: base64.b64encode(os.urandom(32)).decode()),
        # Stripe's signing secret after whsec_; Twilio's auth token; an SES-style password.
        (PROVIDER_CREDENTIAL, lambda: "".join(secrets.choice(ALPHANUMERIC) for _ in range(32))),
        (PROVIDER_CREDENTIAL, lambda: secrets.token_hex(16)),
        (SERVICE_PASSWORD, lambda: secrets.token_urlsafe(16)),
    ],
    ids=["token_urlsafe", "hex-64", "base64-44", "stripe-whsec", "twilio-token", "password"],
)
def test_random_values_of_the_documented_kinds_always_pass(strength, make):
    problems = (secret_problem(make(), strength) for _ in range(DRAWS))
    assert [problem for problem in problems if problem] == []


def test_the_entropy_estimate_keeps_a_margin_over_the_floor():
    """The floor is well under what random values score, so that no real one is ever refused."""
    lowest = min(estimated_bits(secrets.token_urlsafe(32)) for _ in range(DRAWS))
    assert lowest > GENERATED_KEY.min_bits * 1.3
    lowest = min(estimated_bits(secrets.token_hex(16)) for _ in range(DRAWS))
    assert lowest > PROVIDER_CREDENTIAL.min_bits * 1.3


@pytest.mark.parametrize(
    "value",
    ["z" * 40, "xy" * 20, "abc" * 15, string.ascii_lowercase + string.digits, "9876543210" * 4],
)
def test_repeats_and_sequences_are_predictable_whatever_their_length(value):
    assert "too predictable" in secret_problem(value, GENERATED_KEY)


def test_the_run_rule_sees_sequences_and_spares_random_text():
    assert mostly_a_run([ord(c) for c in "abcdefghijklmnop"])
    assert mostly_a_run(list(range(32, 0, -1)))
    assert not mostly_a_run([ord(c) for c in "a1b2c3d4e5f6a7b8"])
    assert not mostly_a_run([])


def test_a_placeholder_is_named_as_such_before_its_length():
    assert secret_problem("changeme", GENERATED_KEY).startswith("looks like a placeholder")
    assert "'example'" in secret_problem("EXAMPLE-" + secrets.token_hex(32), GENERATED_KEY)


def test_messages_never_carry_the_value():
    for value in ("whsec-short", "password" * 5, "q" * 48):
        problem = secret_problem(value, GENERATED_KEY)
        assert problem and value not in problem


def test_random_aes_keys_always_pass_and_patterned_ones_never_do():
    assert [random_bytes_problem(os.urandom(32)) for _ in range(DRAWS)] == [None] * DRAWS
    for patterned in (bytes(32), b"\xff" * 32, bytes(range(32)), os.urandom(4) * 8):
        assert random_bytes_problem(patterned)
