"""One-time link tokens: what goes into ``/c/<token>`` and how it is read back.

A token is an itsdangerous ``URLSafeTimedSerializer`` token, salted for this one purpose,
carrying only the request's public id (``portal.capture.public_ids``: 45 random bits, or 60 for
ids issued before) and a random nonce that names this issue of the link. ``max_age`` is always
passed (the policy's longest expiry), so even a token whose request row vanished stops
verifying on its own.

Compact, so the whole link fits in one text message: the payload is ``<public id>.<nonce>`` in
plain ASCII (``CompactClaim``), not JSON, and the nonce is 9 random bytes (72 bits). The nonce
only has to tell one issue of a request's link from another and be unguessable should a signing
key ever leak; the HMAC signature is what stops forgery. A token is 67 characters (66 for an
old-shape public id). Tokens issued before carry ``[public_id, nonce]`` as JSON with a 16-byte
nonce; they are read by the same serializer and keep working until they expire.

Key rotation: ``LINK_SIGNING_KEYS`` lists keys newest first; the newest signs, all verify.
A valid signature only says "we issued this": status, expiry, revocation and the nonce on the
server decide whether the link may be used (``portal.capture.customer``).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.capture import public_ids

SALT = "postern.capture-link"
NONCE_BYTES = 9  # 72 bits, 12 characters
#: A stored public id, new or old shape: what a token may claim and a route may carry.
PUBLIC_ID_PATTERN = public_ids.STORED_PATTERN
#: A nonce as issued now (12 characters) or before (16 bytes, 22 characters).
_NONCE_PATTERN = re.compile(r"^(?:[A-Za-z0-9_-]{12}|[A-Za-z0-9_-]{22})$")
#: Far longer than any token we issue; anything longer is refused before any work is done.
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class LinkClaim:
    """What a token says: which request, and which issue of its link."""

    public_id: str
    nonce: str


class LinkProblem(Exception):
    """The token cannot be used. ``kind`` is one of:

    - ``malformed``: not a token we could have produced (cut short, edited, rubbish);
    - ``bad_signature``: well-formed, but no key we hold signed it (``claim`` says what it
      claims, so the caller can tell an old-key link from a forgery);
    - ``expired``: our signature, but older than the longest expiry the policy allows.
    """

    def __init__(self, kind: str, claim: LinkClaim | None = None):
        super().__init__(kind)
        self.kind, self.claim = kind, claim


#: A new request's public id: its format has one home, ``portal.capture.public_ids``.
new_public_id = public_ids.new_public_id


def new_nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def hash_secret(value: str) -> str:
    """SHA-256 hex of a random secret (nonce, binding secret): what the database keeps."""
    return hashlib.sha256(value.encode()).hexdigest()


def secrets_match(value: str | None, stored_hash: str | None) -> bool:
    """Constant-time check of ``value`` against a stored ``hash_secret``; False if either is
    missing."""
    if not value or not stored_hash:
        return False
    return secrets.compare_digest(hash_secret(value), stored_hash)


def max_age_seconds() -> int:
    return int(current_app.config["CAPTURE_MAX_EXPIRY_MINUTES"]) * 60


class CompactClaim:
    """The payload's text form for itsdangerous: ``[public_id, nonce]`` written as
    ``public_id.nonce`` (neither part can hold a "."), read back from that or, for tokens
    issued before, from JSON. Anything else raises, which itsdangerous reports as BadPayload."""

    @staticmethod
    def dumps(claim) -> str:
        # itsdangerous also calls dumps({}) once, to learn that this writes text: "" then.
        return ".".join(claim)

    @staticmethod
    def loads(text: str) -> list:
        if text.startswith("["):
            return json.loads(text)
        parts = text.split(".")
        if len(parts) != 2:
            raise ValueError  # not a claim; itsdangerous reports it as BadPayload
        return parts


def serializer(keys_newest_first: list[str] | None = None, **kwargs) -> URLSafeTimedSerializer:
    """The serializer for link tokens; itsdangerous signs with the *last* key of its list."""
    keys = keys_newest_first or current_app.config["LINK_SIGNING_KEYS"]
    if not keys:
        raise RuntimeError("LINK_SIGNING_KEYS is empty: no key to sign links with")
    kwargs.setdefault("serializer", CompactClaim)
    return URLSafeTimedSerializer(list(reversed(keys)), salt=SALT, **kwargs)


def make_token(public_id: str, nonce: str) -> str:
    return serializer().dumps([public_id, nonce])


def link_url(token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/c/{token}"


def _claim_from(payload) -> LinkClaim | None:
    if (
        isinstance(payload, list)
        and len(payload) == 2
        and all(isinstance(part, str) for part in payload)
        and PUBLIC_ID_PATTERN.match(payload[0])
        and _NONCE_PATTERN.match(payload[1])
    ):
        return LinkClaim(payload[0], payload[1])
    return None


def read_token(token: str) -> LinkClaim:
    """Return what ``token`` claims, if one of our keys signed it within ``max_age``.

    Raises LinkProblem (see its kinds). Never says anything about server state.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkProblem("malformed")
    reader = serializer()
    if not _signature_has_right_shape(reader, token):
        # Cut short when copied, or edited: not a token we could have produced.
        raise LinkProblem("malformed")
    try:
        return _claim_from(reader.loads(token, max_age=max_age_seconds())) or _malformed()
    except SignatureExpired as expired:
        raise LinkProblem("expired", _unverified_claim(reader, expired.payload)) from None
    except BadSignature as bad:
        claim = _unverified_claim(reader, bad.payload)
        raise LinkProblem("bad_signature" if claim else "malformed", claim) from None
    except BadData:  # signed by us, but the payload does not decode
        raise LinkProblem("malformed") from None


def _signature_has_right_shape(reader: URLSafeTimedSerializer, token: str) -> bool:
    signer = reader.make_signer()
    expected = len(signer.get_signature(b"shape"))
    parts = token.rsplit(".", 2)  # a compressed payload may itself start with "."
    return len(parts) == 3 and len(parts[2]) == expected and all(parts)


def _malformed() -> LinkClaim:
    raise LinkProblem("malformed")


def _unverified_claim(reader: URLSafeTimedSerializer, payload: bytes | None) -> LinkClaim | None:
    """Decode a payload whose signature failed, for choosing the right error page only."""
    if not payload:
        return None
    try:
        return _claim_from(reader.load_payload(payload))
    except BadData:  # BadPayload: not base64 / not JSON
        return None
