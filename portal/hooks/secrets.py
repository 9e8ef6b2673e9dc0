"""Endpoint signing secrets: made, sealed at rest, rotated with an overlap, and signed with.

A secret is 32 random bytes in Standard Webhooks' ``whsec_<base64>`` form. It is shown once
(at registration and at rotation) and kept only sealed with the data keyring, the way staff
TOTP seeds are (``portal.models.sealed_secret``, under its own purpose tag, bound to the
secret row's id). Rotation keeps the old secret signing for ``HOOKS_ROTATION_OVERLAP_HOURS``,
so the buyer can switch without losing a delivery: every unexpired secret signs,
and a receiver holding either verifies (Standard Webhooks allows several signatures).
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import update
from standardwebhooks import Webhook

from portal.extensions import db
from portal.models.hooks import HookEndpoint, HookSecret
from portal.models.sealed_secret import (
    SealedSecretError,
    SealedSeed,
    app_keyring,
    seal_seed,
    unseal_seed,
)
from portal.models.types import utcnow

PURPOSE = "postern-hook-secret-v1"
SECRET_BYTES = 32


class HookSecretError(Exception):
    """A stored secret failed authentication; names the endpoint, never the secret."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(SECRET_BYTES)).decode("ascii")


def add_secret(endpoint: HookEndpoint, now: datetime | None = None) -> str:
    """Give ``endpoint`` a new secret (flushed) and return it in clear, to be shown once."""
    secret = new_secret()
    row = HookSecret(
        endpoint_id=endpoint.id, key_id="", nonce=b"", ciphertext=b"", created_at=now or utcnow()
    )
    db.session.add(row)
    db.session.flush()  # the seal is bound to the row's id
    sealed = seal_seed(app_keyring(), row.id, secret, purpose=PURPOSE)
    row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
    db.session.flush()
    return secret


def rotate(endpoint: HookEndpoint, now: datetime | None = None) -> str:
    """A new secret for ``endpoint``; the current ones stop signing after the overlap window
    (sooner, if they were already due to). Returns the new secret in clear, to show once."""
    now = now or utcnow()
    overlap_ends = now + timedelta(hours=current_app.config["HOOKS_ROTATION_OVERLAP_HOURS"])
    db.session.execute(
        update(HookSecret)
        .where(
            HookSecret.endpoint_id == endpoint.id,
            (HookSecret.expires_at.is_(None)) | (HookSecret.expires_at > overlap_ends),
        )
        .values(expires_at=overlap_ends)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(endpoint, ["secrets"])
    return add_secret(endpoint, now)


def signing_secrets(endpoint: HookEndpoint, now: datetime) -> list[str]:
    """The endpoint's unexpired secrets in clear, newest first. Raises HookSecretError (or
    the keyring's UnknownKeyError when the key that sealed one is no longer configured)."""
    live = [s for s in endpoint.secrets if s.expires_at is None or s.expires_at > now]
    clear = []
    for row in sorted(live, key=lambda s: s.id, reverse=True):
        sealed = SealedSeed(row.key_id, row.nonce, row.ciphertext)
        try:
            clear.append(unseal_seed(app_keyring(), row.id, sealed, purpose=PURPOSE))
        except SealedSecretError:
            raise HookSecretError(
                f"a signing secret of webhook endpoint {endpoint.id} failed authentication"
            ) from None
    return clear


def serialise(body: dict[str, Any]) -> bytes:
    """The body's bytes, exactly as signed and sent."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signed_headers(
    message_id: str, payload: bytes, secrets: list[str], timestamp: datetime
) -> dict[str, str]:
    """Standard Webhooks' headers for ``payload``: one ``v1,`` signature per secret."""
    signatures = [
        Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=payload)
        for secret in secrets
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
