"""The text of an API key: ``pstn_live_<lookup id>_<secret>``, Stripe-style.

- ``pstn_live_`` says what it is at a glance (secret scanners and people alike);
- the lookup id (8 characters, lower-case letters and digits) finds the stored key with one
  indexed read and is safe to show;
- the secret (43 URL-safe characters, 256 random bits) is what proves it.

Only the SHA-256 of the whole key is stored. A salted slow hash (argon2) protects guessable
passwords; a 256-bit random secret cannot be guessed, so a fast hash is right here and keeps
every API call cheap. Compared with ``hmac.compare_digest`` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "pstn_live_"
_LOOKUP_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
LOOKUP_LENGTH = 8
#: ``secrets.token_urlsafe(32)``: 32 random bytes, 43 characters.
SECRET_LENGTH = 43
KEY_PATTERN = re.compile(
    rf"^{KEY_PREFIX}(?P<lookup>[a-z0-9]{{{LOOKUP_LENGTH}}})_(?P<secret>[A-Za-z0-9_-]{{{SECRET_LENGTH}}})$"
)
#: How much of a key is shown in lists and audit rows: the prefix and the lookup id.
DISPLAY_LENGTH = len(KEY_PREFIX) + LOOKUP_LENGTH


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``text`` is shown once and never stored."""

    text: str
    lookup_id: str
    prefix: str
    secret_hash: str


def hash_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_key() -> NewKey:
    lookup = "".join(secrets.choice(_LOOKUP_ALPHABET) for _ in range(LOOKUP_LENGTH))
    text = f"{KEY_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
    return NewKey(text, lookup, text[:DISPLAY_LENGTH], hash_key(text))


def lookup_id_of(text: str) -> str | None:
    """The lookup id inside ``text``, or None if it is not shaped like one of our keys."""
    found = KEY_PATTERN.match(text or "")
    return found.group("lookup") if found else None


def matches(text: str, secret_hash: str) -> bool:
    """Whether ``text`` is the key whose hash is ``secret_hash``, in constant time."""
    return hmac.compare_digest(hash_key(text), secret_hash)
