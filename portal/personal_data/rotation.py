"""Re-encrypting stored values under the newest data key, beside live traffic.

Rows are read in id order, a batch at a time, each batch in its own short transaction. Each row
is written back with ``UPDATE ... WHERE id = :id AND key_id = :old``: if anything touched it
meanwhile (another rotation, an erasure) the UPDATE matches nothing and the row is left alone.
So the app keeps reading and writing throughout, two rotations can run at once, and running it
again after an interruption just finishes the job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from config.keyring import Keyring, UnknownKeyError
from portal import audit
from portal.extensions import db
from portal.models.captured_data import CapturedValue
from portal.personal_data.crypto import DecryptionError, Sealed, reseal
from portal.personal_data.keyring import current_keyring

log = logging.getLogger("portal.dataprotect")
_values = CapturedValue.__table__


@dataclass
class RotationResult:
    newest_key_id: str
    #: Rows found under an older key.
    examined: int = 0
    #: Rows this run re-encrypted.
    rotated: int = 0
    #: Rows that changed under us (rotated by someone else, or erased): nothing to do.
    skipped: int = 0
    #: Ids of rows that could not be decrypted (tampered, or their key is not configured).
    failed_ids: list[int] = field(default_factory=list)

    def as_details(self) -> dict:
        return {
            "newest_key_id": self.newest_key_id,
            "examined": self.examined,
            "rotated": self.rotated,
            "skipped": self.skipped,
            "failed": len(self.failed_ids),
        }


def counts_by_key() -> dict[str, int]:
    """How many stored values each key id protects."""
    rows = db.session.execute(
        select(CapturedValue.key_id, func.count()).group_by(CapturedValue.key_id)
    ).all()
    return {key_id: int(count) for key_id, count in rows}


def _rotate_row(keyring: Keyring, row, result: RotationResult) -> None:
    try:
        fresh = reseal(
            keyring,
            row.capture_request_id,
            row.field_name,
            Sealed(row.key_id, row.nonce, row.ciphertext),
        )
    except (DecryptionError, UnknownKeyError) as problem:
        result.failed_ids.append(row.id)
        log.error("data key rotation: value %s not re-encrypted: %s", row.id, problem)
        return
    changed = db.session.execute(
        update(_values)
        .where(_values.c.id == row.id, _values.c.key_id == row.key_id)
        .values(key_id=fresh.key_id, nonce=fresh.nonce, ciphertext=fresh.ciphertext)
    ).rowcount
    if changed == 1:
        result.rotated += 1
    else:
        result.skipped += 1


def rotate(batch_size: int = 500, *, actor: audit.Actor) -> RotationResult:
    """Re-encrypt every value not under the newest key; commits per batch. Audited as ``actor``
    at the start and end (``keys.rotation_started``, ``keys.rotated``). Returns the counts."""
    keyring = current_keyring()
    result = RotationResult(keyring.newest_id)
    audit.record(
        "keys.rotation_started",
        target_type="data_key",
        target_id=keyring.newest_id,
        details={"pending": sum(n for k, n in counts_by_key().items() if k != keyring.newest_id)},
        actor=actor,
    )
    db.session.commit()
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
            .where(_values.c.key_id != keyring.newest_id, _values.c.id > last_id)
            .order_by(_values.c.id)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for row in batch:
            result.examined += 1
            _rotate_row(keyring, row, result)
        last_id = batch[-1].id
        db.session.commit()
    audit.record(
        "keys.rotated",
        outcome="success" if not result.failed_ids else "partial",
        target_type="data_key",
        target_id=keyring.newest_id,
        details=result.as_details(),
        actor=actor,
    )
    db.session.commit()
    return result
