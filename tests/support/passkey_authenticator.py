"""A software WebAuthn authenticator for tests that speak to the server directly (no browser).

It makes a real P-256 key pair, answers the server's options with a "none" attestation and
signed assertions exactly as a platform authenticator would (the same bytes the ``webauthn``
library checks), and lets a test turn its sign counter back as a cloned authenticator would.
The browser tests use Chromium's own virtual authenticator instead (tests/browser).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

_UP, _UV, _BE, _BS, _AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One credential on one pretend device, for the relying party at ``origin``."""

    def __init__(self, origin: str, *, synced: bool = False, user_verified: bool = True):
        self.origin = origin
        self.rp_id = origin.split("://", 1)[1].split(":", 1)[0]
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.counter = 0
        self.synced = synced
        self.user_verified = user_verified
        self.user_handle: bytes | None = None

    def _flags(self, *extra: int) -> int:
        flags = _UP | (_UV if self.user_verified else 0)
        if self.synced:
            flags |= _BE | _BS
        for bit in extra:
            flags |= bit
        return flags

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin},
            separators=(",", ":"),
        ).encode()

    def create(self, options: dict, *, origin: str | None = None) -> dict:
        """The credential JSON a browser posts after ``navigator.credentials.create``."""
        self.user_handle = unb64url(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags(_AT)])
            + self.counter.to_bytes(4, "big")
            + bytes(16)  # AAGUID: none
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + cose_key
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(self, options: dict, *, counter: int | None = None, origin: str | None = None) -> dict:
        """The credential JSON a browser posts after ``navigator.credentials.get``; the counter
        moves on by one unless ``counter`` says what to report."""
        self.counter = self.counter + 1 if counter is None else counter
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags()])
            + self.counter.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle or b""),
            },
        }
