"""The envelope: a data key per request, values under it, the key wrapped by the keyring and
bound to its request; re-wrapping under a newer keyring key leaves the data key as it was."""

from __future__ import annotations

import os

import pytest

from config.keyring import UnknownKeyError, parse_keyring
from portal.personal_data.crypto import (
    DecryptionError,
    WrappedKey,
    new_data_key,
    rewrap_data_key,
    seal,
    seal_value,
    unseal_value,
    unwrap_data_key,
    wrap_data_key,
)

RING_A = parse_keyring({"ka": os.urandom(32)})


def test_values_round_trip_under_a_data_key_with_fresh_nonces():
    key = new_data_key()
    first = seal_value(key, 7, "postcode", "SW1A 1AA")
    second = seal_value(key, 7, "postcode", "SW1A 1AA")
    assert len(key) == 32 and first != second and b"SW1A" not in first[1]
    assert unseal_value(key, 7, "postcode", *first) == "SW1A 1AA"


@pytest.mark.parametrize(("request_id", "field_name"), [(8, "postcode"), (7, "town")])
def test_a_value_copied_to_another_request_or_field_fails(request_id, field_name):
    key = new_data_key()
    nonce, ciphertext = seal_value(key, 7, "postcode", "SW1A 1AA")
    with pytest.raises(DecryptionError, match="failed authentication under its data key"):
        unseal_value(key, request_id, field_name, nonce, ciphertext)


def test_a_value_under_another_data_key_fails():
    nonce, ciphertext = seal_value(new_data_key(), 7, "postcode", "SW1A 1AA")
    with pytest.raises(DecryptionError):
        unseal_value(new_data_key(), 7, "postcode", nonce, ciphertext)


def test_a_keyring_format_value_does_not_read_as_an_envelope_one():
    """The formats' associated data differ: a keyring-format ciphertext is never mistaken."""
    sealed = seal(RING_A, 7, "postcode", "SW1A 1AA")
    with pytest.raises(DecryptionError):
        unseal_value(RING_A.newest_key, 7, "postcode", sealed.nonce, sealed.ciphertext)


def test_wrapping_binds_the_key_to_its_request_and_keyring_key():
    key = new_data_key()
    wrapped = wrap_data_key(RING_A, 7, key)
    assert wrapped.key_id == "ka" and key not in wrapped.wrapped
    assert unwrap_data_key(RING_A, 7, wrapped) == key
    with pytest.raises(DecryptionError, match="belongs to another request"):
        unwrap_data_key(RING_A, 8, wrapped)
    relabelled = WrappedKey("kb", wrapped.nonce, wrapped.wrapped)
    ring = parse_keyring({"kb": RING_A.newest_key})
    with pytest.raises(DecryptionError):
        unwrap_data_key(ring, 7, relabelled)
    with pytest.raises(UnknownKeyError):
        unwrap_data_key(parse_keyring({"kc": os.urandom(32)}), 7, wrapped)


def test_rewrapping_moves_the_same_data_key_under_the_newest_keyring_key():
    key = new_data_key()
    old = wrap_data_key(RING_A, 7, key)
    ring = parse_keyring({"kb": os.urandom(32), "ka": RING_A.newest_key})
    new = rewrap_data_key(ring, 7, old)
    assert new.key_id == "kb" and new.wrapped != old.wrapped
    assert unwrap_data_key(parse_keyring({"kb": ring.key("kb")}), 7, new) == key
