"""``Idempotency-Key`` on every POST, with Stripe's semantics, stored per API key.

- the same key with the same parameters: the first answer is replayed (same status and body,
  ``Idempotent-Replayed: true``), however often it is sent, for 24 hours;
- the same key with other parameters: 400 ``idempotency_error``, nothing done;
- the same key while its first request is still running: 409 ``idempotency_error``.

The stored answer is sealed with the data keyring (AES-256-GCM, bound to its row): a
copy-link request's answer carries the customer's link, which must never rest readable.

Claiming a key is one INSERT under a unique constraint, so two retries racing on two app
processes cannot both run. A failure on our side (5xx) releases the key, so a retry runs anew.
Rows are purged after a day by ``flask retention purge`` (data class ``api_idempotency``).
``idempotent`` applies all this to a POST view; the OpenAPI document names the header
(``portal.api.spec.IDEMPOTENCY_KEY``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Response, current_app, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from config.keyring import KeyringError
from config.retention import retention_period
from portal.api.auth import current_key
from portal.api.errors import IDEMPOTENCY, ApiError, invalid
from portal.extensions import db
from portal.models.api_key import ApiKey, IdempotentRequest
from portal.models.sealed_secret import (
    SealedSecretError,
    SealedSeed,
    app_keyring,
    seal_seed,
    unseal_seed,
)
from portal.models.types import utcnow

HEADER = "Idempotency-Key"
#: Tags the sealed answers (``portal.models.sealed_secret``): no other secret opens as one.
REPLAY_PURPOSE = "postern-api-replay-v1"

REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Claim:
    """A key claimed for this request: ``finish`` stores the answer (or releases the key)."""

    row_id: int


def idempotent(view: Callable) -> Callable:
    """Decorator for a POST view returning a Response (the one flask-smorest serialised): with
    an ``Idempotency-Key``, the first answer is stored and replayed, errors in the API's shape
    included; a fault on our side releases the key."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        key = requested_key()
        if key is None:
            return view(*args, **kwargs)
        taken = claim(current_key(), key)
        if not isinstance(taken, Claim):
            return taken  # the stored answer, replayed
        reply = None
        try:
            reply = view(*args, **kwargs)
        except ApiError as problem:
            reply = problem.response()
        finally:
            finish(taken, reply)
        return reply

    return wrapped


def fingerprint() -> str:
    """What "the same parameters" means: the method, the path and the JSON body, its keys
    sorted (whitespace and key order do not matter); the raw bytes if it is not JSON.

    Keyed (HMAC under the app's secret key): the body may hold an identity answer or a phone
    number, which an unkeyed hash would let anyone reading the table guess offline."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        body = raw.hex()
    text = f"{request.method} {request.path}\n{body}"
    key = hashlib.sha256(b"postern-api-idempotency:" + current_app.secret_key.encode()).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def requested_key() -> str | None:
    value = request.headers.get(HEADER)
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable():
        raise invalid(
            HEADER,
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters "
            "(a UUID is a good choice).",
            code="idempotency_key_invalid",
        )
    return value


def claim(api_key: ApiKey, idempotency_key: str, *, _again: bool = True) -> Claim | Response:
    """Claim ``idempotency_key`` for this request (a Claim: go on, then ``finish``), or the
    answer to give instead: the stored response replayed. Raises ApiError 400 (other
    parameters) or 409 (still running). COMMITS the claim."""
    mark = fingerprint()
    row = IdempotentRequest(
        api_key_id=api_key.id,
        idempotency_key=idempotency_key,
        fingerprint=mark,
        created_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
        db.session.commit()
        return Claim(row.id)
    except IntegrityError:
        db.session.rollback()
    earlier = db.session.execute(
        select(IdempotentRequest).where(
            IdempotentRequest.api_key_id == api_key.id,
            IdempotentRequest.idempotency_key == idempotency_key,
        )
    ).scalar_one_or_none()
    if earlier is None or earlier.created_at <= utcnow() - retention_period("api_idempotency"):
        # Gone meanwhile, or past its day and not purged yet: a key is only remembered for
        # that long, so this is a new request. Claim the key afresh (once: a racing twin loses).
        if earlier is not None:
            db.session.execute(
                delete(IdempotentRequest).where(
                    IdempotentRequest.id == earlier.id,
                    IdempotentRequest.created_at == earlier.created_at,
                )
            )
            db.session.commit()
        if not _again:
            raise _busy()
        return claim(api_key, idempotency_key, _again=False)
    if earlier.fingerprint != mark:
        raise ApiError(
            400,
            IDEMPOTENCY,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with different parameters. Use a new key "
            "for a new request.",
            HEADER,
        )
    if earlier.response_status is None:
        raise _busy()
    replay = Response(_unsealed(earlier), earlier.response_status, mimetype="application/json")
    replay.headers[REPLAYED_HEADER] = "true"
    return replay


def _sealed(row_id: int, body: str) -> dict:
    sealed = seal_seed(app_keyring(), row_id, body, purpose=REPLAY_PURPOSE)
    return {
        "response_key_id": sealed.key_id,
        "response_nonce": sealed.nonce,
        "response_ciphertext": sealed.ciphertext,
    }


def _unsealed(row: IdempotentRequest) -> str:
    sealed = SealedSeed(row.response_key_id, row.response_nonce, row.response_ciphertext)
    try:
        return unseal_seed(app_keyring(), row.id, sealed, purpose=REPLAY_PURPOSE)
    except (KeyringError, SealedSecretError):
        # Its data key was retired since (``flask keys rotate`` and removal), or the row was
        # altered: the answer is gone, and running the request again might act twice.
        raise ApiError(
            409,
            IDEMPOTENCY,
            "idempotency_answer_unreadable",
            "The answer to this Idempotency-Key can no longer be read. Check whether the "
            "request was made (list requests), then use a new key if it was not.",
            HEADER,
        ) from None


def _busy() -> ApiError:
    return ApiError(
        409,
        IDEMPOTENCY,
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still being processed. Wait a moment, then "
        "send it again to get its answer.",
        HEADER,
    )


def finish(taken: Claim, response: Response | None) -> None:
    """Store ``response`` for replay, or release the key when there is none or it is a
    failure on our side (a retry should run again). COMMITS."""
    db.session.rollback()  # whatever the view left undone is not ours to commit
    if response is None or response.status_code >= 500:
        db.session.execute(delete(IdempotentRequest).where(IdempotentRequest.id == taken.row_id))
    else:
        db.session.execute(
            update(IdempotentRequest)
            .where(IdempotentRequest.id == taken.row_id)
            .values(
                response_status=response.status_code,
                completed_at=utcnow(),
                **_sealed(taken.row_id, response.get_data(as_text=True)),
            )
        )
    db.session.commit()
