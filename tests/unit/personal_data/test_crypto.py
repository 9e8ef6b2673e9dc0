"""AES-256-GCM per value: a fresh nonce each time, bound to its request, field and key id."""

from __future__ import annotations

import os

import pytest

from config.keyring import UnknownKeyError, parse_keyring
from portal.personal_data.crypto import NONCE_BYTES, DecryptionError, Sealed, reseal, seal, unseal

RING_A = parse_keyring({"ka": os.urandom(32)})


def test_round_trip_and_fresh_nonces():
    first = seal(RING_A, 7, "postcode", "SW1A 1AA")
    second = seal(RING_A, 7, "postcode", "SW1A 1AA")
    assert first.key_id == "ka" and len(first.nonce) == NONCE_BYTES
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext
    assert b"SW1A" not in first.ciphertext
    assert unseal(RING_A, 7, "postcode", first) == "SW1A 1AA"
    assert unseal(RING_A, 7, "postcode", second) == "SW1A 1AA"


def test_unicode_survives():
    sealed = seal(RING_A, 1, "address_line1", "Tŷ Newydd, Ffordd Glyndŵr")
    assert unseal(RING_A, 1, "address_line1", sealed) == "Tŷ Newydd, Ffordd Glyndŵr"


@pytest.mark.parametrize(
    ("request_id", "field_name"),
    [(8, "postcode"), (7, "town")],
    ids=["moved to another request", "moved to another field"],
)
def test_a_value_moved_elsewhere_does_not_decrypt(request_id, field_name):
    sealed = seal(RING_A, 7, "postcode", "SW1A 1AA")
    with pytest.raises(DecryptionError, match="failed authentication"):
        unseal(RING_A, request_id, field_name, sealed)


def test_tampering_is_detected():
    sealed = seal(RING_A, 7, "postcode", "SW1A 1AA")
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    for broken in (
        Sealed(sealed.key_id, sealed.nonce, flipped),
        Sealed(sealed.key_id, os.urandom(NONCE_BYTES), sealed.ciphertext),
        Sealed(sealed.key_id, sealed.nonce, sealed.ciphertext[:-1]),
        Sealed(sealed.key_id, sealed.nonce, b""),
    ):
        with pytest.raises(DecryptionError, match="field 'postcode' of capture request 7"):
            unseal(RING_A, 7, "postcode", broken)


def test_a_swapped_key_id_fails_even_if_the_key_is_configured():
    ring = parse_keyring({"kb": os.urandom(32), "ka": RING_A.key("ka")})
    sealed = seal(RING_A, 7, "postcode", "SW1A 1AA")
    relabelled = Sealed("kb", sealed.nonce, sealed.ciphertext)
    with pytest.raises(DecryptionError):
        unseal(ring, 7, "postcode", relabelled)


def test_unknown_key_is_named():
    sealed = seal(RING_A, 7, "postcode", "SW1A 1AA")
    with pytest.raises(UnknownKeyError, match="'ka' is not in DATA_ENCRYPTION_KEYS"):
        unseal(parse_keyring({"kb": os.urandom(32)}), 7, "postcode", sealed)


def test_reseal_moves_a_value_to_the_newest_key():
    ring = parse_keyring({"kb": os.urandom(32), "ka": RING_A.key("ka")})
    old = seal(RING_A, 7, "postcode", "SW1A 1AA")
    new = reseal(ring, 7, "postcode", old)
    assert new.key_id == "kb" and new.nonce != old.nonce
    assert unseal(parse_keyring({"kb": ring.key("kb")}), 7, "postcode", new) == "SW1A 1AA"
    assert "SW1A" not in repr(new)
