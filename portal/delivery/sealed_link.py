"""The link a queued message carries, kept sealed until the worker sends it.

The outbox never holds a usable customer link: a message points at its capture request (and so
at the link's public id) and keeps the link's token encrypted with the data keyring
(AES-256-GCM, ``portal.personal_data.crypto``), bound to that request and that message. The
worker opens it only to render the message and hand it to the provider, and the message forgets
it as soon as it is final (``FORGET``).

Why the token is sealed rather than minted again at send time: the database keeps only a hash
of the link's nonce, so the same token cannot be minted twice, and a fresh one would need a new
nonce. That would kill the link an earlier attempt may already have delivered (a retry after a
provider timed out having accepted the message) and the copy the agent was shown, and it would
move the signature's timestamp, on which the token's own ``max_age`` runs. Sealing keeps the
very token that was issued, so its one-time binding and expiry are exactly those of the request.
"""

from __future__ import annotations

import base64
import binascii

from config.keyring import KeyringError
from portal.capture import links
from portal.personal_data.crypto import NONCE_BYTES, DecryptionError, Sealed, seal, unseal
from portal.personal_data.keyring import current_keyring

#: The values that make a message forget its link (for the UPDATEs that finish a message).
FORGET = {"sealed_link": None}


class LinkUnavailable(Exception):
    """The sealed link cannot be opened: forgotten, or its key is gone or does not match.
    The message names the message id only, never the link."""


def _field(message_id: int) -> str:
    """What the ciphertext is bound to besides the request (its associated data)."""
    return f"delivery_message:{int(message_id)}:link"


def seal_token(capture_request_id: int, message_id: int, token: str) -> str:
    """``token`` encrypted under the newest data key, as stored in ``sealed_link``.
    Raises KeyringError when no data key is configured."""
    sealed = seal(current_keyring(), capture_request_id, _field(message_id), token)
    packed = base64.urlsafe_b64encode(sealed.nonce + sealed.ciphertext).decode("ascii")
    return f"{sealed.key_id}:{packed}"


def open_link(capture_request_id: int, message_id: int, sealed_link: str | None) -> str:
    """The customer link (``PUBLIC_BASE_URL/c/<token>``) sealed in ``sealed_link``.
    Raises LinkUnavailable."""
    if not sealed_link:
        raise LinkUnavailable(f"message {message_id} no longer holds its link")
    key_id, _, packed = sealed_link.partition(":")
    try:
        raw = base64.urlsafe_b64decode(packed.encode("ascii"))
        sealed = Sealed(key_id, raw[:NONCE_BYTES], raw[NONCE_BYTES:])
        token = unseal(current_keyring(), capture_request_id, _field(message_id), sealed)
    except (binascii.Error, ValueError, DecryptionError, KeyringError) as problem:
        raise LinkUnavailable(
            f"the link of message {message_id} cannot be opened: {type(problem).__name__}"
        ) from None
    return links.link_url(token)
