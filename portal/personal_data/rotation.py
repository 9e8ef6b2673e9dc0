"""Key rotation and the conversion of older values, beside live traffic.

Rotation re-wraps data keys: each request's data key, in the key store, is unwrapped under the
keyring key it was wrapped with and wrapped again under the newest (``key_store.rewrap_all``).
One small row per capture request; the values themselves are not read or written.

Conversion moves values stored before envelope encryption (``FORMAT_KEYRING``, encrypted
directly under a keyring key) into the envelope: each is decrypted under its keyring key and
encrypted under its request's data key (made on the way, committed in the key store first).
Rotation runs it too, so that after ``flask keys rotate`` nothing depends on an older keyring
key any more and it can be removed.

Both work in batches, each its own short transaction, rows in key order. Each row is written
back only if it is still what was read (``WHERE id = :id AND format = 1 AND key_id = :old``;
for keys ``WHERE capture_request_id AND wrapping_key_id``): if anything touched it meanwhile
(another run, an erasure) the UPDATE matches nothing and the row is left alone. So the app
keeps reading and writing throughout, two runs can overlap, and running again after an
interruption just finishes the job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from config.keyring import Keyring, UnknownKeyError
from portal import audit
from portal.extensions import db
from portal.models.captured_data import FORMAT_ENVELOPE, FORMAT_KEYRING, CapturedValue
from portal.personal_data import key_store
from portal.personal_data.crypto import DecryptionError, Sealed, seal_value, unseal
from portal.personal_data.keyring import current_keyring

log = logging.getLogger("portal.dataprotect")
_values = CapturedValue.__table__


@dataclass
class ConversionResult:
    #: Values found in the keyring format.
    examined: int = 0
    #: Values this run moved into the envelope format.
    converted: int = 0
    #: Rows that changed under us (converted by another run, or erased): nothing to do.
    skipped: int = 0
    #: Ids of values that could not be decrypted (tampered, or their key is not configured).
    failed_ids: list[int] = field(default_factory=list)

    def as_details(self) -> dict:
        return {
            "examined": self.examined,
            "converted": self.converted,
            "skipped": self.skipped,
            "failed": len(self.failed_ids),
        }


@dataclass
class RotationResult:
    keys: key_store.RewrapResult
    values: ConversionResult

    @property
    def newest_key_id(self) -> str:
        return self.keys.newest_key_id

    @property
    def failed(self) -> bool:
        return bool(self.keys.failed_ids or self.values.failed_ids)

    def as_details(self) -> dict:
        return {
            "newest_key_id": self.newest_key_id,
            "keys_examined": self.keys.examined,
            "keys_rewrapped": self.keys.rewrapped,
            "keys_skipped": self.keys.skipped,
            "keys_failed": len(self.keys.failed_ids),
            "values_converted": self.values.converted,
            "values_skipped": self.values.skipped,
            "values_failed": len(self.values.failed_ids),
        }


def counts_by_key() -> dict[str, int]:
    """How many values in the keyring format each keyring key protects (envelope values name
    no keyring key: ``key_store.counts_by_wrapping_key`` counts their data keys)."""
    rows = db.session.execute(
        select(CapturedValue.key_id, func.count())
        .where(CapturedValue.format == FORMAT_KEYRING)
        .group_by(CapturedValue.key_id)
    ).all()
    return {key_id: int(count) for key_id, count in rows}


def _convert_row(keyring: Keyring, data_key: bytes, row, result: ConversionResult) -> None:
    try:
        plaintext = unseal(
            keyring,
            row.capture_request_id,
            row.field_name,
            Sealed(row.key_id, row.nonce, row.ciphertext),
        )
    except (DecryptionError, UnknownKeyError) as problem:
        result.failed_ids.append(row.id)
        log.error("value %s not converted to the envelope format: %s", row.id, problem)
        return
    nonce, ciphertext = seal_value(data_key, row.capture_request_id, row.field_name, plaintext)
    changed = db.session.execute(
        update(_values)
        .where(
            _values.c.id == row.id,
            _values.c.format == FORMAT_KEYRING,
            _values.c.key_id == row.key_id,
        )
        .values(format=FORMAT_ENVELOPE, key_id=None, nonce=nonce, ciphertext=ciphertext)
    ).rowcount
    if changed == 1:
        result.converted += 1
    else:
        result.skipped += 1


def _convert(keyring: Keyring, batch_size: int) -> ConversionResult:
    result = ConversionResult()
    last_id = 0
    while True:
        batch = db.session.execute(
            select(
                _values.c.id,
                _values.c.capture_request_id,
                _values.c.field_name,
                _values.c.key_id,
                _values.c.nonce,
                _values.c.ciphertext,
            )
            .where(_values.c.format == FORMAT_KEYRING, _values.c.id > last_id)
            .order_by(_values.c.id)
            .limit(batch_size)
        ).all()
        if not batch:
            db.session.rollback()
            return result
        try:
            data_keys = key_store.ensure_data_keys(
                keyring, {row.capture_request_id for row in batch}
            )
        except (DecryptionError, UnknownKeyError) as problem:
            # A data key already there cannot be unwrapped: leave this batch for the
            # operator (rotation lists its requests), convert the rest.
            log.error("data keys of a conversion batch cannot be unwrapped: %s", problem)
            data_keys = {}
        for row in batch:
            result.examined += 1
            data_key = data_keys.get(row.capture_request_id)
            if data_key is None:
                result.failed_ids.append(row.id)
                continue
            _convert_row(keyring, data_key, row, result)
        last_id = batch[-1].id
        db.session.commit()


def convert_values(batch_size: int = 500, *, actor: audit.Actor) -> ConversionResult:
    """Move every keyring-format value into the envelope format; commits per batch. Audited
    as ``actor`` (``keys.values_converted``, with the counts). Returns the counts."""
    result = _convert(current_keyring(), batch_size)
    audit.record(
        "keys.values_converted",
        outcome="success" if not result.failed_ids else "partial",
        target_type="data_key",
        target_id=current_keyring().newest_id,
        details=result.as_details(),
        actor=actor,
    )
    db.session.commit()
    return result


def rotate(batch_size: int = 500, *, actor: audit.Actor) -> RotationResult:
    """Re-wrap every data key not under the newest keyring key, then convert any value still
    in the keyring format; commits per batch. Audited as ``actor`` at the start and end
    (``keys.rotation_started``, ``keys.rotated``). Returns the counts."""
    keyring = current_keyring()
    older_keys = sum(
        n for k, n in key_store.counts_by_wrapping_key().items() if k != keyring.newest_id
    )
    audit.record(
        "keys.rotation_started",
        target_type="data_key",
        target_id=keyring.newest_id,
        details={"keys_pending": older_keys, "values_pending": sum(counts_by_key().values())},
        actor=actor,
    )
    db.session.commit()
    result = RotationResult(
        keys=key_store.rewrap_all(keyring, batch_size), values=_convert(keyring, batch_size)
    )
    for request_id in result.keys.failed_ids[:50]:
        log.error("data key of capture request %s not re-wrapped: cannot unwrap it", request_id)
    audit.record(
        "keys.rotated",
        outcome="partial" if result.failed else "success",
        target_type="data_key",
        target_id=keyring.newest_id,
        details=result.as_details(),
        actor=actor,
    )
    db.session.commit()
    return result
