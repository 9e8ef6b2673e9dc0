"""Encrypting captured values: AES-256-GCM, a fresh nonce per value, bound to its place.

Two formats (``captured_values.format``):

- the ENVELOPE (format 2, every new value): each capture request has its own random 256-bit
  data key (``new_data_key``); its values are encrypted under it (``seal_value``) and the key
  itself is stored wrapped by the keyring's newest key (``wrap_data_key``) in the key store.
  Erasure destroys the wrapped key; rotation re-wraps it and never touches the values.
- the KEYRING format (format 1): a value encrypted directly under a keyring key (``seal``),
  as every value was before the envelope. Still read; converted by ``flask keys rotate``.
  ``seal``/``unseal`` also protect links waiting in the outbox (portal.delivery.sealed_link).

Associated data binds each ciphertext to the capture request and field it was captured for,
and to the format (and, for the keyring format and a wrapped key, the keyring key id): a value
or key copied to another request or field, a key id swapped, or a single flipped bit all fail
authentication instead of decrypting to something.
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
#: The envelope format's values, and the wrapped data keys, each have a version tag of their own.
ENVELOPE_AAD_VERSION = "postern-data-v2"
WRAP_AAD_VERSION = "postern-data-key-v1"


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


def new_data_key() -> bytes:
    """A fresh random 256-bit data key for one capture request."""
    return AESGCM.generate_key(bit_length=256)


@dataclass(frozen=True)
class WrappedKey:
    """A data key as the key store keeps it: wrapped by the keyring key ``key_id``."""

    key_id: str
    nonce: bytes
    wrapped: bytes

    def __repr__(self) -> str:
        return f"<WrappedKey key_id={self.key_id!r}>"


def _wrap_associated_data(capture_request_id: int, key_id: str) -> bytes:
    return f"{WRAP_AAD_VERSION}:{int(capture_request_id)}:{key_id}".encode()


def wrap_data_key(keyring: Keyring, capture_request_id: int, data_key: bytes) -> WrappedKey:
    """Wrap ``data_key`` under the keyring's newest key (AES-256-GCM, bound to the request)."""
    key_id = keyring.newest_id
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(keyring.newest_key).encrypt(
        nonce, data_key, _wrap_associated_data(capture_request_id, key_id)
    )
    return WrappedKey(key_id, nonce, wrapped)


def unwrap_data_key(keyring: Keyring, capture_request_id: int, wrapped: WrappedKey) -> bytes:
    """The data key inside ``wrapped``. Raises UnknownKeyError (wrapping key not configured)
    or DecryptionError (altered, or the wrapped key of another request)."""
    key = keyring.key(wrapped.key_id)
    try:
        return AESGCM(key).decrypt(
            bytes(wrapped.nonce),
            bytes(wrapped.wrapped),
            _wrap_associated_data(capture_request_id, wrapped.key_id),
        )
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"the data key of capture request {capture_request_id} failed authentication under "
            f"key {wrapped.key_id!r}: it was altered, or it belongs to another request"
        ) from None


def rewrap_data_key(keyring: Keyring, capture_request_id: int, wrapped: WrappedKey) -> WrappedKey:
    """Unwrap under the old keyring key and wrap under the newest (rotation)."""
    return wrap_data_key(
        keyring, capture_request_id, unwrap_data_key(keyring, capture_request_id, wrapped)
    )


def _value_associated_data(capture_request_id: int, field_name: str) -> bytes:
    return f"{ENVELOPE_AAD_VERSION}:{int(capture_request_id)}:{field_name}".encode()


def seal_value(data_key: bytes, capture_request_id: int, field_name: str, plaintext: str):
    """Encrypt one value under its request's data key: (nonce, ciphertext with GCM tag)."""
    # A data key encrypts one request's handful of values: random nonces cannot collide.
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(
        nonce, plaintext.encode("utf-8"), _value_associated_data(capture_request_id, field_name)
    )
    return nonce, ciphertext


def unseal_value(
    data_key: bytes, capture_request_id: int, field_name: str, nonce: bytes, ciphertext: bytes
) -> str:
    """Decrypt one envelope-format value. Raises DecryptionError (altered, or stored against
    another request or field, or not encrypted under this data key)."""
    try:
        plaintext = AESGCM(data_key).decrypt(
            bytes(nonce), bytes(ciphertext), _value_associated_data(capture_request_id, field_name)
        )
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"field {field_name!r} of capture request {capture_request_id} failed authentication "
            "under its data key: the ciphertext was altered, or it belongs to another request "
            "or field"
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
