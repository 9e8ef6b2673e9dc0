"""Crypto-shredding: an erasure destroys the request's data key, and the erasure journal makes
that stick even when the key store is restored from a backup.

An erasure (``staff_access.erase``, the retention purge) deletes the values in the main
database and calls ``journal_erasure`` in the same transaction: one ``erasure_journal`` row per
request, ids only. When that transaction COMMITS, the requests' data keys are deleted from the
key store; if it rolls back, nothing is destroyed. So the audit row, the deleted values and the
journal entry always go together, and the key never outlives a committed erasure for longer
than the commit takes, unless the key store cannot be reached at that moment: then the error
is logged and ``reapply_erasures`` (``flask keys reapply-erasures``) finishes the job. The same
command, run after restoring the key store from a backup, destroys again every key the journal
names, since that backup may predate some erasures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models.captured_data import ErasureJournalEntry
from portal.models.types import utcnow
from portal.personal_data import key_store

log = logging.getLogger("portal.dataprotect")
_journal = ErasureJournalEntry.__table__

#: Where a session keeps the ids whose keys go when it commits (``Session.info``).
_PENDING = "postern_data_keys_to_destroy"
#: Why a request's values were erased (``erasure_journal.cause``).
CAUSES = ("data_subject", "retention")


def journal_erasure(capture_request_ids: Iterable[int], cause: str) -> None:
    """Record in the current transaction that these requests' values are erased, and destroy
    their data keys once it commits. Idempotent (a request journaled before stays as it was)."""
    if cause not in CAUSES:
        raise ValueError(f"unknown erasure cause {cause!r}")
    ids = sorted({int(i) for i in capture_request_ids})
    if not ids:
        return
    session = db.session()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    session.execute(
        dialect.insert(_journal).on_conflict_do_nothing(index_elements=["capture_request_id"]),
        [{"capture_request_id": i, "cause": cause, "erased_at": now} for i in ids],
    )
    session.info.setdefault(_PENDING, set()).update(ids)
    if not event.contains(session, "after_commit", _destroy_after_commit):
        event.listen(session, "after_commit", _destroy_after_commit)
        event.listen(session, "after_rollback", _forget_on_rollback)


def _destroy_after_commit(session: Session) -> None:
    # Releasing a SAVEPOINT (``begin_nested``, as every audit row does) fires after_commit
    # too: only the outermost commit makes the erasure durable.
    if session.get_nested_transaction() is not None:
        return
    ids = session.info.pop(_PENDING, set())
    if not ids:
        return
    try:
        key_store.destroy_data_keys(ids)
    except SQLAlchemyError:
        # The erasure itself is committed and journaled; the keys go on the next
        # reapply-erasures. Ids only: nothing personal.
        log.exception(
            "data keys of erased requests could not be destroyed yet: run "
            "`flask keys reapply-erasures`",
            extra={"capture_request_ids": sorted(ids)[:50], "count": len(ids)},
        )


def _forget_on_rollback(session: Session) -> None:
    if session.get_nested_transaction() is None:  # not a SAVEPOINT rolled back inside it
        session.info.pop(_PENDING, None)


def is_journaled(capture_request_id: int) -> bool:
    """Whether the request's values were erased (per this database's journal)."""
    found = db.session.execute(
        select(_journal.c.id).where(_journal.c.capture_request_id == int(capture_request_id))
    ).first()
    return found is not None


@dataclass
class ReapplyResult:
    #: Journal entries read.
    journaled: int = 0
    #: Data keys found in the key store for them, and destroyed now.
    destroyed: int = 0


def reapply_erasures(batch_size: int = 1000) -> ReapplyResult:
    """Destroy the data key of every request the erasure journal names, a batch at a time.
    Run after restoring the key store from a backup (and whenever an erasure logged that its
    key could not be destroyed). Idempotent; changes nothing in the main database."""
    result = ReapplyResult()
    last_id = 0
    while True:
        batch = db.session.execute(
            select(_journal.c.id, _journal.c.capture_request_id)
            .where(_journal.c.id > last_id)
            .order_by(_journal.c.id)
            .limit(batch_size)
        ).all()
        db.session.rollback()  # no main-database transaction held open between batches
        if not batch:
            return result
        result.journaled += len(batch)
        result.destroyed += key_store.destroy_data_keys(row[1] for row in batch)
        last_id = batch[-1][0]
