"""The data-encryption keys: parsed from configuration, checked at startup, newest encrypts.

Parsing lives in config/ because the settings check it before the app starts
(``config.settings.data_key_problems``); ``portal.personal_data.keyring`` holds the running
app's keyring.

``DATA_ENCRYPTION_KEYS`` (environment ``POSTERN_DATA_ENCRYPTION_KEYS``) lists keys NEWEST FIRST,
like ``LINK_SIGNING_KEYS``: ``"2027a:<base64>,2026a:<base64>"``. These keyring keys do not
encrypt captured values themselves: they WRAP each capture request's own data key, which the
key store keeps (envelope encryption, docs/personal-data-encryption.md); they also seal staff
TOTP seeds and links waiting in the outbox. Rotating means putting a new key at the front (it
wraps from the next restart on, while the older ones still unwrap), running ``flask keys
rotate`` to re-wrap the data keys (one small row per request; no value is re-encrypted) and
re-seal the seeds, and only then removing the old key. Each key is 32 random bytes in standard
base64 (``flask keys generate --id 2027a`` prints a fresh one). Tests and code may also pass a
mapping ``{key_id: base64 or bytes}``, newest first.

A malformed list stops the app from starting (``KeyringError``): encrypting with a short or
mistyped key, or failing only when the first customer submits, is worse than not starting.
Production also refuses a key that is well formed but not random (``weak_key_problems``: all
zero, one byte repeated, few different bytes, a run, or text).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from config.secret_strength import random_bytes_problem

KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")


class KeyringError(ValueError):
    """The configured keys are unusable; the message names the problem, never a key."""


class UnknownKeyError(KeyringError):
    """A stored value names a key id that is not configured (removed before rotation)."""


@dataclass(frozen=True)
class Keyring:
    """Keys in configuration order: ``newest_id`` first, then older ones."""

    keys: tuple[tuple[str, bytes], ...]

    @property
    def newest_id(self) -> str:
        return self.keys[0][0]

    @property
    def newest_key(self) -> bytes:
        return self.keys[0][1]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.keys)

    def key(self, key_id: str) -> bytes:
        """The key called ``key_id``. Raises UnknownKeyError."""
        for candidate, key in self.keys:
            if candidate == key_id:
                return key
        raise UnknownKeyError(
            f"data key {key_id!r} is not in DATA_ENCRYPTION_KEYS: put it back, or the values "
            "it protects cannot be read"
        )

    def __repr__(self) -> str:  # never show key material
        return f"<Keyring ids={list(self.ids)} newest={self.newest_id!r}>"


def _decode_key(key_id: str, encoded: str | bytes) -> bytes:
    if isinstance(encoded, bytes) and len(encoded) == KEY_BYTES:
        return encoded
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"data key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyringError(
            f"data key {key_id!r} is {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}"
        )
    return key


def _pairs(value: str | Mapping) -> list[tuple[str, str | bytes]]:
    if isinstance(value, Mapping):
        return [(str(key_id), key) for key_id, key in value.items()]
    pairs = []
    for item in (part.strip() for part in str(value).split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep:
            raise KeyringError("each data key must be written as key_id:base64")
        pairs.append((key_id.strip(), encoded.strip()))
    return pairs


def parse_keyring(value: str | Mapping | None) -> Keyring:
    """Parse ``"id:base64,id:base64"`` (or a mapping), newest first. Raises KeyringError."""
    pairs = _pairs(value or "")
    if not pairs:
        raise KeyringError("DATA_ENCRYPTION_KEYS is empty: at least one data key is needed")
    seen: set[str] = set()
    keys = []
    for key_id, encoded in pairs:
        if not _KEY_ID.fullmatch(key_id):
            raise KeyringError(
                f"data key id {key_id[:40]!r} must be 1-32 letters, digits, '.', '_' or '-'"
            )
        if key_id in seen:
            raise KeyringError(f"data key id {key_id!r} appears twice")
        seen.add(key_id)
        keys.append((key_id, _decode_key(key_id, encoded)))
    return Keyring(tuple(keys))


def weak_key_problems(keyring: Keyring) -> list[str]:
    """Each key of ``keyring`` that does not look like 32 random bytes, in words; never a key."""
    problems = []
    for key_id, key in keyring.keys:
        problem = random_bytes_problem(key)
        if problem:
            problems.append(f"data key {key_id!r} {problem}")
    return problems
