"""Reading and writing one capture request's stored values, whatever their format: the one
place that knows where each value's key is (the key store for the envelope format, the keyring
for the older one).

``decrypt_request_values`` is the plain read: no audit, no reason, no permission check. Staff
read through ``reveal`` (which audits); operators' tools (the restore drill) call it to prove
that a sample decrypts, and must never print what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from config.keyring import Keyring, UnknownKeyError
from portal.extensions import db
from portal.models.captured_data import FORMAT_ENVELOPE, CapturedValue
from portal.personal_data import key_store
from portal.personal_data.crypto import (
    DecryptionError,
    Sealed,
    seal_value,
    unseal,
    unseal_value,
    unwrap_data_key,
)
from portal.personal_data.keyring import current_keyring

#: Why a stored value could not be read (the ``problem`` of a ``data.reveal_failed`` row).
ALTERED = "altered"
KEY_NOT_CONFIGURED = "key_not_configured"
KEY_MISSING = "key_missing"


class UndecryptableValues(Exception):
    """Some of a request's values could not be decrypted. ``problems`` maps each such field to
    ``ALTERED``, ``KEY_NOT_CONFIGURED`` or ``KEY_MISSING``; the message names fields, never
    values."""

    def __init__(self, capture_request_id: int, problems: dict[str, str]):
        self.capture_request_id = capture_request_id
        self.problems = dict(problems)
        described = ", ".join(f"{name} ({why})" for name, why in sorted(self.problems.items()))
        super().__init__(f"capture request {capture_request_id}: cannot decrypt {described}")


class DataKeyMissing(UndecryptableValues):
    """The request's values are in the envelope format and the key store has no data key for
    it: the values were erased (the key destroyed), or the key store was restored from a
    backup older than the request. Either way they cannot be decrypted by anyone."""


@dataclass
class Decrypted:
    values: dict[str, str] = field(default_factory=dict)
    #: field name -> ALTERED | KEY_NOT_CONFIGURED | KEY_MISSING
    unreadable: dict[str, str] = field(default_factory=dict)


def stored_rows(capture_request_id: int, field_name: str | None = None) -> list[CapturedValue]:
    query = select(CapturedValue).where(CapturedValue.capture_request_id == capture_request_id)
    if field_name is not None:
        query = query.where(CapturedValue.field_name == field_name)
    return list(db.session.execute(query).scalars())


def _data_key(keyring: Keyring, capture_request_id: int) -> tuple[bytes | None, str | None]:
    """(the request's data key, None) or (None, the problem)."""
    wrapped = key_store.wrapped_keys([capture_request_id]).get(capture_request_id)
    if wrapped is None:
        return None, KEY_MISSING
    try:
        return unwrap_data_key(keyring, capture_request_id, wrapped), None
    except UnknownKeyError:
        return None, KEY_NOT_CONFIGURED
    except DecryptionError:
        return None, ALTERED


def decrypt_rows(capture_request_id: int, rows: list[CapturedValue]) -> Decrypted:
    """Decrypt ``rows`` (values of one request). Every row is tried, so a caller can name every
    field that failed, not just the first."""
    keyring = current_keyring()
    result = Decrypted()
    data_key, key_problem = None, None
    if any(row.format == FORMAT_ENVELOPE for row in rows):
        data_key, key_problem = _data_key(keyring, capture_request_id)
    for row in rows:
        try:
            if row.format == FORMAT_ENVELOPE:
                if data_key is None:
                    result.unreadable[row.field_name] = key_problem or KEY_MISSING
                    continue
                value = unseal_value(
                    data_key, capture_request_id, row.field_name, row.nonce, row.ciphertext
                )
            else:
                sealed = Sealed(row.key_id, row.nonce, row.ciphertext)
                value = unseal(keyring, capture_request_id, row.field_name, sealed)
        except DecryptionError:
            result.unreadable[row.field_name] = ALTERED
        except UnknownKeyError:
            result.unreadable[row.field_name] = KEY_NOT_CONFIGURED
        else:
            result.values[row.field_name] = value
    return result


def decrypt_request_values(capture_request_id: int) -> dict[str, str]:
    """Every stored value of the request, decrypted: ``{field name: value}`` (empty when it has
    none). No audit and no checks: staff-facing code reveals through ``reveal`` instead.

    Raises DataKeyMissing when the values are under a data key the key store no longer holds
    (erased), UndecryptableValues for anything else that fails (altered ciphertext, a keyring
    key that is not configured)."""
    decrypted = decrypt_rows(capture_request_id, stored_rows(capture_request_id))
    if decrypted.unreadable:
        problems = set(decrypted.unreadable.values())
        error = DataKeyMissing if problems == {KEY_MISSING} else UndecryptableValues
        raise error(capture_request_id, decrypted.unreadable)
    return decrypted.values


def seal_request_values(
    capture_request_id: int, values: dict[str, str]
) -> dict[str, tuple[bytes, bytes]]:
    """Encrypt a request's values under its data key, made now (and committed in the key store
    before any of them is written). Returns ``{field name: (nonce, ciphertext)}``, to be stored
    as ``FORMAT_ENVELOPE`` rows."""
    if not values:
        return {}
    data_key = key_store.create_data_key(current_keyring(), capture_request_id)
    return {
        name: seal_value(data_key, capture_request_id, name, value)
        for name, value in values.items()
    }
