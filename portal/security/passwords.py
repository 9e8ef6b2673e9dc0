"""Staff passwords: argon2id hashes and the password policy.

Policy (PCI DSS 8.3.6 asks for at least 12 characters): a minimum length, not found in a bundled
list of common and breached passwords, not the username. No composition rules: length and the
deny list do more, and NIST SP 800-63B advises against composition rules.
"""

from __future__ import annotations

import gzip
import secrets
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

# The test profile keeps argon2id but with tiny costs; never selected outside TESTING.
_FAST_PROFILE = {"time_cost": 1, "memory_cost": 8, "parallelism": 1, "hash_len": 32, "salt_len": 16}

_production_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
_fast_hasher = PasswordHasher(**_FAST_PROFILE)


class PasswordPolicyError(ValueError):
    """The password breaks the policy; the message says why, in plain words."""


def _hasher(fast: bool) -> PasswordHasher:
    return _fast_hasher if fast else _production_hasher


def hash_password(password: str, *, fast: bool = False) -> str:
    return _hasher(fast).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches; never raises for a wrong password or a malformed hash."""
    try:
        return _production_hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, *, fast: bool = False) -> bool:
    return _hasher(fast).check_needs_rehash(password_hash)


@lru_cache(maxsize=2)
def dummy_hash(fast: bool = False) -> str:
    """A hash of a random password, at the strength real hashes have in this configuration.

    Verified against when the username is unknown (or the account locked or disabled), so that
    such an answer takes as long as a wrong password: no user enumeration by timing. Computed
    on first use, not at import.
    """
    return _hasher(fast).hash(secrets.token_urlsafe(32))


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    data = resources.files("portal.security").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def check_password_policy(password: str, *, username: str = "", min_length: int = 12) -> None:
    """Raise PasswordPolicyError with a specific reason if ``password`` is not acceptable."""
    if len(password) < min_length:
        raise PasswordPolicyError(f"Use at least {min_length} characters.")
    if len(password) > 256:
        raise PasswordPolicyError("Use at most 256 characters.")
    lowered = password.lower()
    if lowered in _common_passwords():
        raise PasswordPolicyError(
            "This password is on a list of common or breached passwords. Choose another."
        )
    if username and username.lower() in lowered:
        raise PasswordPolicyError("The password must not contain your username.")


#: Letters and digits nobody confuses when reading them aloud or off a screen (no 0/o, 1/l/i).
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def temporary_password(*, username: str = "", min_length: int = 12) -> str:
    """A random one-time password an administrator reads to a colleague: four groups of four
    (``"k3m9-xq2t-..."``, about 79 bits), or as many groups as a longer ``min_length`` needs,
    passing the policy above."""
    # n groups and their dashes are 5n - 1 characters: never fewer than the policy asks for
    # (with a fixed four, a minimum above 19 refused every candidate and the loop never ended).
    count = max(4, (min_length + 5) // 5)
    while True:
        groups = (
            "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(4)) for _ in range(count)
        )
        candidate = "-".join(groups)
        try:
            check_password_policy(candidate, username=username, min_length=min_length)
        except PasswordPolicyError:  # vanishingly rare: it happened to contain the username
            continue
        return candidate
