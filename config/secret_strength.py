"""How production tells a real secret from a weak or placeholder one.

A secret that is short, repetitive or a sequence (``a``, ``k`` x 64, ``abcdef...``), or a
placeholder left in from an example (``whsec_x``, ``changeme``), must stop production from
starting, as a missing one does. These rules are deliberately simple, so that an operator can
predict them: every value that ``secrets.token_urlsafe(32)``, ``openssl rand -base64 32`` or
``openssl rand -hex 32`` prints passes them with a wide margin, and so do the credentials that
Stripe and Twilio issue.

The entropy estimate is the value's own character statistics (Shannon entropy per character
times its length). It undercounts a random value rather than overcounts it, so the floors
below sit well under what a random value of the asked length scores, and well over what a
repeated or patterned one does.

Each function returns the problem in words, never the value (nor anything computed from it,
such as the estimate itself): refusals end up in logs and on consoles.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

#: Pieces of example values; a real secret contains none of them (a random value of 64
#: characters contains a given 6-letter word about once in 10**9 draws).
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "replaceme",
    "replace-me",
    "replace_me",
    "example",
    "secret",
    "password",
)


@dataclass(frozen=True)
class Strength:
    """What a secret of one kind must have: a length in characters and an entropy estimate."""

    min_length: int
    min_bits: int
    how_to_make: str


#: Postern's own keys (session, audit chain, link signing, identity pepper): 32 random bytes.
#: token_urlsafe(32) scores at least ~185 bits on the estimate, openssl rand -hex 32 ~220.
GENERATED_KEY = Strength(
    min_length=32,
    min_bits=128,
    how_to_make="make one from 32 random bytes: openssl rand -base64 32",
)
#: Credentials a provider issues (Stripe's secret and signing keys after their prefix,
#: Twilio's auth token): 24+ random characters; 32 hexadecimal ones score at least ~94 bits.
PROVIDER_CREDENTIAL = Strength(
    min_length=24,
    min_bits=64,
    how_to_make="copy it exactly as the provider's dashboard shows it",
)
#: A password for a service we log in to (the SMTP relay), which the operator may have chosen.
SERVICE_PASSWORD = Strength(
    min_length=16,
    min_bits=48,
    how_to_make="use a long random password or an API key for the relay",
)


def estimated_bits(value: str) -> float:
    """Shannon entropy of the value's characters, times its length (0 for an empty value)."""
    if not value:
        return 0.0
    counts, length = Counter(value), len(value)
    return -length * sum(n / length * math.log2(n / length) for n in counts.values())


def mostly_a_run(values: list[int]) -> bool:
    """Whether three neighbours in four repeat or step by one (``aaaa``, ``abcd``, ``4321``,
    bytes 0..31).

    Random characters or bytes rarely do: one pair in 20 for base64, one in 6 for hexadecimal,
    one in 85 for bytes (three in four of 31 pairs: under once in 10**12 hexadecimal values);
    a sequence or a repeated value does almost everywhere.
    """
    pairs = list(zip(values, values[1:], strict=False))
    stepping = sum(abs(a - b) <= 1 for a, b in pairs)
    return bool(pairs) and stepping * 4 >= len(pairs) * 3


def placeholder_word(value: str) -> str | None:
    """The example word the value contains, if any."""
    lowered = value.lower()
    return next((word for word in PLACEHOLDER_WORDS if word in lowered), None)


def secret_problem(value: str, strength: Strength) -> str | None:
    """Why ``value`` is too weak to be a secret of this strength, or None. Never quotes it."""
    word = placeholder_word(value)
    if word:
        return f"looks like a placeholder: it contains {word!r} ({strength.how_to_make})"
    if len(value) < strength.min_length:
        return (
            f"is too short: at least {strength.min_length} characters are needed "
            f"({strength.how_to_make})"
        )
    if mostly_a_run([ord(char) for char in value]) or estimated_bits(value) < strength.min_bits:
        return (
            f"is too predictable: repeated characters or a sequence, under the "
            f"{strength.min_bits}-bit entropy estimate ({strength.how_to_make})"
        )
    return None


#: A random 32-byte key holds about 30 different byte values; 20 or fewer happens by chance
#: far less than once in 10**12 keys, and is what a repeated or patterned key looks like.
MIN_DISTINCT_KEY_BYTES = 21


def random_bytes_problem(key: bytes) -> str | None:
    """Why ``key`` does not look like random bytes (an AES key), or None. Never quotes it.

    Refused: one byte repeated (all zero), few different bytes, a run (bytes 0, 1, 2, ...),
    and text (a passphrase typed as a key: random bytes are all printable once in 10**14).
    """
    if len(set(key)) == 1:
        return "is one byte repeated (for example all zero), not random bytes"
    if len(set(key)) < MIN_DISTINCT_KEY_BYTES:
        return (
            f"has too few different byte values: random bytes have about 30 of 32 "
            f"(at least {MIN_DISTINCT_KEY_BYTES} are needed)"
        )
    if mostly_a_run(list(key)):
        return "is mostly a run of repeated or consecutive bytes, not random bytes"
    if all(0x20 <= byte < 0x7F for byte in key):
        return "is printable text, not random bytes (a passphrase is not a key)"
    return None
