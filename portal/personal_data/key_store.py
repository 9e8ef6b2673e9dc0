"""The key store: each capture request's data key, wrapped, in a database of its own.

Every function here works on the key store's own connection (the ``keys`` bind) and commits
there at once, apart from the main database's transaction, because the two must change in a
set order whatever happens between them:

- a data key is committed BEFORE any value under it reaches the main database (a value
  without its key would be lost); if the main transaction then fails, an unused key is left,
  which holds nothing;
- a data key is destroyed only AFTER the erasure of its values has committed (see
  ``portal.personal_data.shredding``): a key destroyed for an erasure that then rolled back
  would leave values nobody can read and no audit row saying why.

Nothing here logs or returns key material except the unwrapped data keys callers ask for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from config.keyring import Keyring, UnknownKeyError
from portal.extensions import db
from portal.models.data_keys import KEY_STORE_BIND, DataKey
from portal.models.types import utcnow
from portal.personal_data.crypto import (
    DecryptionError,
    WrappedKey,
    new_data_key,
    rewrap_data_key,
    unwrap_data_key,
    wrap_data_key,
)

_keys = DataKey.__table__


def engine() -> Engine:
    """The key store's engine (``KEY_STORE_URL``)."""
    return db.engines[KEY_STORE_BIND]


def _insert_ignoring_existing(connection: Connection):
    """INSERT that leaves a request's existing key alone (two writers racing for one request:
    the first key stays, and both use it)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(_keys).on_conflict_do_nothing(index_elements=["capture_request_id"])


def wrapped_keys(capture_request_ids: Iterable[int]) -> dict[int, WrappedKey]:
    """The wrapped data keys of these requests that the key store holds (erased ones: absent)."""
    ids = sorted({int(i) for i in capture_request_ids})
    if not ids:
        return {}
    with engine().connect() as connection:
        rows = connection.execute(
            select(
                _keys.c.capture_request_id,
                _keys.c.wrapping_key_id,
                _keys.c.nonce,
                _keys.c.wrapped_key,
            ).where(_keys.c.capture_request_id.in_(ids))
        ).all()
    return {row[0]: WrappedKey(row[1], bytes(row[2]), bytes(row[3])) for row in rows}


def ensure_data_keys(keyring: Keyring, capture_request_ids: Iterable[int]) -> dict[int, bytes]:
    """The data key of each request, made (and committed in the key store) where it has none
    yet. Returns ``{request id: data key}``. Raises UnknownKeyError or DecryptionError when an
    existing key cannot be unwrapped."""
    ids = sorted({int(i) for i in capture_request_ids})
    existing = wrapped_keys(ids)
    missing = [i for i in ids if i not in existing]
    if missing:
        now = utcnow()
        rows = []
        for request_id in missing:
            wrapped = wrap_data_key(keyring, request_id, new_data_key())
            rows.append(
                {
                    "capture_request_id": request_id,
                    "wrapping_key_id": wrapped.key_id,
                    "nonce": wrapped.nonce,
                    "wrapped_key": wrapped.wrapped,
                    "created_at": now,
                }
            )
        with engine().begin() as connection:
            connection.execute(_insert_ignoring_existing(connection), rows)
        # Read back what was stored: where another writer won the race, its key is the one.
        existing.update(wrapped_keys(missing))
    return {i: unwrap_data_key(keyring, i, wrapped) for i, wrapped in existing.items()}


def create_data_key(keyring: Keyring, capture_request_id: int) -> bytes:
    """The request's data key, made and committed now if it has none. See ``ensure_data_keys``."""
    return ensure_data_keys(keyring, [capture_request_id])[int(capture_request_id)]


def destroy_data_keys(capture_request_ids: Iterable[int]) -> int:
    """Delete these requests' data keys (crypto-shredding); committed. Returns how many went.
    Idempotent: a key already gone counts nothing."""
    ids = sorted({int(i) for i in capture_request_ids})
    destroyed = 0
    with engine().begin() as connection:
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            destroyed += connection.execute(
                delete(_keys).where(_keys.c.capture_request_id.in_(chunk))
            ).rowcount
    return destroyed


def counts_by_wrapping_key() -> dict[str, int]:
    """How many data keys each keyring key wraps."""
    with engine().connect() as connection:
        rows = connection.execute(
            select(_keys.c.wrapping_key_id, func.count()).group_by(_keys.c.wrapping_key_id)
        ).all()
    return {key_id: int(count) for key_id, count in rows}


@dataclass
class RewrapResult:
    newest_key_id: str
    #: Data keys found under an older keyring key.
    examined: int = 0
    #: Data keys this run re-wrapped.
    rewrapped: int = 0
    #: Keys that changed under us (re-wrapped by another run, or destroyed by an erasure).
    skipped: int = 0
    #: Capture request ids whose key could not be unwrapped (altered, or its keyring key is
    #: not configured).
    failed_ids: list[int] = field(default_factory=list)


def rewrap_all(keyring: Keyring, batch_size: int) -> RewrapResult:
    """Re-wrap every data key not under the keyring's newest key, a batch per key-store
    transaction, each row written back only if it is still under the key it was read under
    (``WHERE capture_request_id AND wrapping_key_id``), so it runs safely beside live traffic,
    beside another rotation, and again after an interruption. The values are not touched."""
    result = RewrapResult(keyring.newest_id)
    last_id = -1
    while True:
        with engine().begin() as connection:
            batch = connection.execute(
                select(
                    _keys.c.capture_request_id,
                    _keys.c.wrapping_key_id,
                    _keys.c.nonce,
                    _keys.c.wrapped_key,
                )
                .where(
                    _keys.c.wrapping_key_id != keyring.newest_id,
                    _keys.c.capture_request_id > last_id,
                )
                .order_by(_keys.c.capture_request_id)
                .limit(batch_size)
            ).all()
            if not batch:
                return result
            now = utcnow()
            for request_id, key_id, nonce, wrapped in batch:
                result.examined += 1
                try:
                    fresh = rewrap_data_key(
                        keyring, request_id, WrappedKey(key_id, bytes(nonce), bytes(wrapped))
                    )
                except (DecryptionError, UnknownKeyError):
                    result.failed_ids.append(request_id)
                    continue
                changed = connection.execute(
                    update(_keys)
                    .where(
                        _keys.c.capture_request_id == request_id,
                        _keys.c.wrapping_key_id == key_id,
                    )
                    .values(
                        wrapping_key_id=fresh.key_id,
                        nonce=fresh.nonce,
                        wrapped_key=fresh.wrapped,
                        rewrapped_at=now,
                    )
                ).rowcount
                if changed == 1:
                    result.rewrapped += 1
                else:
                    result.skipped += 1
            last_id = batch[-1][0]
