"""Encrypting one captured value: AES-256-GCM, a fresh nonce per value, bound to its place.

The associated data binds each ciphertext to the capture request and field it was captured
for, and to the key id stored beside it: a value copied to another request or field, a key id
swapped, or a single flipped bit all fail authentication instead of decrypting to something.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from config.keyring import Keyring

NONCE_BYTES = 12  # 96 bits: GCM's native nonce size (NIST SP 800-38D, 8.2)
#: Version tag in the associated data, so a future format cannot be confused with this one.
AAD_VERSION = "postern-data-v1"


class DecryptionError(Exception):
    """A stored value failed authentication; the message names where, never what."""


@dataclass(frozen=True)
class Sealed:
    """What is stored for one value: the key id, the nonce and the ciphertext (with GCM tag)."""

    key_id: str
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"<Sealed key_id={self.key_id!r} {len(self.ciphertext)} bytes>"


def associated_data(capture_request_id: int, field_name: str, key_id: str) -> bytes:
    return f"{AAD_VERSION}:{int(capture_request_id)}:{field_name}:{key_id}".encode()


def seal(keyring: Keyring, capture_request_id: int, field_name: str, plaintext: str) -> Sealed:
    """Encrypt ``plaintext`` under the newest key, with a fresh random nonce."""
    key_id = keyring.newest_id
    # Random 96-bit nonces: safe well past 2**32 values per key (SP 800-38D, 8.3); rotation
    # keeps every key far below that.
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(keyring.newest_key).encrypt(
        nonce, plaintext.encode("utf-8"), associated_data(capture_request_id, field_name, key_id)
    )
    return Sealed(key_id, nonce, ciphertext)


def unseal(keyring: Keyring, capture_request_id: int, field_name: str, sealed: Sealed) -> str:
    """Decrypt a stored value. Raises UnknownKeyError (key not configured) or DecryptionError
    (tampered, truncated, or stored against another request, field or key id)."""
    key = keyring.key(sealed.key_id)
    try:
        plaintext = AESGCM(key).decrypt(
            bytes(sealed.nonce),
            bytes(sealed.ciphertext),
            associated_data(capture_request_id, field_name, sealed.key_id),
        )
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"field {field_name!r} of capture request {capture_request_id} failed authentication "
            f"under key {sealed.key_id!r}: the ciphertext was altered, or it belongs to another "
            "request or field"
        ) from None
    return plaintext.decode("utf-8")


def reseal(keyring: Keyring, capture_request_id: int, field_name: str, sealed: Sealed) -> Sealed:
    """Decrypt under the old key and encrypt under the newest (for key rotation)."""
    return seal(
        keyring,
        capture_request_id,
        field_name,
        unseal(keyring, capture_request_id, field_name, sealed),
    )
