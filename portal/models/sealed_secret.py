"""A staff member's TOTP seed, sealed with the data keyring (the keys that encrypt personal
data, ``config.keyring``).

AES-256-GCM through ``cryptography``, as for captured values (``portal.personal_data.crypto``):
a fresh 96-bit nonce per seal, the key id stored beside the ciphertext so ``flask keys rotate``
can re-seal under the newest key, and associated data that binds the ciphertext to its account
and key id, so a seed copied to another account or a swapped key id fails authentication
instead of decrypting. It lives here, below the models, because ``StaffUser.totp_secret``
seals and unseals through it and the models import nothing above them.

The format (``AAD_VERSION``) is also what migration 0013 writes: change it only with a new
version tag and a migration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from config.keyring import Keyring, parse_keyring

NONCE_BYTES = 12  # GCM's native nonce size (NIST SP 800-38D, 8.2)
AAD_VERSION = "postern-totp-v1"


class SealedSecretError(Exception):
    """A stored seed failed authentication; the message names the account, never the seed."""


@dataclass(frozen=True)
class SealedSeed:
    key_id: str
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:  # never show the ciphertext either
        return f"<SealedSeed key_id={self.key_id!r}>"


def app_keyring() -> Keyring:
    """The running app's data keyring (``DATA_ENCRYPTION_KEYS``). Raises KeyringError."""
    return parse_keyring(current_app.config.get("DATA_ENCRYPTION_KEYS"))


def associated_data(user_id: int, key_id: str, purpose: str = AAD_VERSION) -> bytes:
    return f"{purpose}:{int(user_id)}:{key_id}".encode()


def seal_seed(keyring: Keyring, user_id: int, seed: str, purpose: str = AAD_VERSION) -> SealedSeed:
    """Encrypt ``seed`` for account ``user_id`` under the newest key. ``purpose`` tags other
    secrets sealed the same way (a webhook endpoint's signing secret, ``portal.hooks``; an API
    answer kept for replay, ``portal.api.idempotency``), so a ciphertext of one kind never
    opens as another; ``user_id`` is then that owner's id. Text is UTF-8 (a seed is ASCII)."""
    key_id = keyring.newest_id
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(keyring.newest_key).encrypt(
        nonce, seed.encode("utf-8"), associated_data(user_id, key_id, purpose)
    )
    return SealedSeed(key_id, nonce, ciphertext)


def unseal_seed(
    keyring: Keyring, user_id: int, sealed: SealedSeed, purpose: str = AAD_VERSION
) -> str:
    """Decrypt account ``user_id``'s seed. Raises UnknownKeyError (its key is no longer
    configured) or SealedSecretError (altered, or sealed for another account or key id)."""
    key = keyring.key(sealed.key_id)
    try:
        seed = AESGCM(key).decrypt(
            bytes(sealed.nonce),
            bytes(sealed.ciphertext),
            associated_data(user_id, sealed.key_id, purpose),
        )
    except (InvalidTag, ValueError):
        raise SealedSecretError(
            f"the TOTP seed of staff account {user_id} failed authentication under key "
            f"{sealed.key_id!r}: it was altered, or it belongs to another account"
        ) from None
    return seed.decode("utf-8")
