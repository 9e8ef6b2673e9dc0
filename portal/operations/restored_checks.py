"""What the restore drill checks in the restored database. Every function here runs in the
app context of the app pointed at the restored copy, so ``db.session`` is the copy's.

Nothing personal leaves these functions: table names and counts, audit sequence numbers, and
how many sampled values decrypted. A decrypted value is counted and dropped, never returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, inspect, select, table, text

from portal.audit import anchors
from portal.audit.checkpoints import verify_audit_chain
from portal.extensions import db
from portal.models.captured_data import CapturedValue
from portal.personal_data.values import KEY_MISSING, UndecryptableValues, decrypt_request_values


def row_counts() -> dict[str, int]:
    """Rows per table of the restored database's schema, by table name."""
    names = sorted(inspect(db.engine).get_table_names())
    return {
        name: db.session.execute(select(func.count()).select_from(table(name))).scalar_one()
        for name in names
    }


def schema_revision() -> str | None:
    """The Alembic revision the restored database was migrated to (None: no migrations)."""
    if "alembic_version" not in inspect(db.engine).get_table_names():
        return None
    return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    #: The last row verified (the chain's end when ``ok``); None for an empty trail.
    verified_up_to_seq: int | None
    rows_checked: int
    #: The newest anchor's seq, if the chain was ever anchored.
    anchor_seq: int | None
    #: ``flask audit verify``'s own sentences, the problem first when there is one.
    messages: tuple[str, ...]


def verify_audit() -> AuditCheck:
    """The checks of ``flask audit verify``, on the restored copy, writing no anchor: the
    chain's end against the newest anchor, then every row from retention's checkpoint."""
    tail = anchors.check_tail()  # before the walk, as the command does
    result = verify_audit_chain()
    messages = []
    if not tail.ok:
        messages.append(tail.describe())
    messages.append(result.describe())
    return AuditCheck(
        ok=tail.ok and result.ok,
        verified_up_to_seq=result.last_seq if result.ok else None,
        rows_checked=result.rows_checked,
        anchor_seq=tail.anchor.seq if tail.anchor is not None else None,
        messages=tuple(messages),
    )


@dataclass(frozen=True)
class SampleCheck:
    requests: int
    values: int
    decrypted: int
    #: Values that could not be read, by reason ("altered", "key_not_configured"; "key_missing":
    #: the key store holds no data key for the request; the drill then asks the LIVE erasure
    #: journal whether that is an erasure since the dump or a key the key store lost).
    unreadable: dict[str, int]
    #: Values with no data key, by capture request id (internal ids; never reported).
    key_missing_by_request: dict[int, int] = field(default_factory=dict, repr=False)


def decrypt_sample(requests: int) -> SampleCheck:
    """Decrypt every stored value of up to ``requests`` capture requests picked at random."""
    picked = list(
        db.session.execute(
            select(CapturedValue.capture_request_id)
            .group_by(CapturedValue.capture_request_id)
            .order_by(func.random())
            .limit(requests)
        ).scalars()
    )
    values = decrypted = 0
    unreadable: dict[str, int] = {}
    key_missing: dict[int, int] = {}
    for request_id in picked:
        stored = db.session.execute(
            select(func.count())
            .select_from(CapturedValue)
            .where(CapturedValue.capture_request_id == request_id)
        ).scalar_one()
        problems = _unreadable(request_id)
        values += stored
        decrypted += stored - len(problems)
        for reason in problems.values():
            unreadable[reason] = unreadable.get(reason, 0) + 1
            if reason == KEY_MISSING:
                key_missing[request_id] = key_missing.get(request_id, 0) + 1
    return SampleCheck(len(picked), values, decrypted, unreadable, key_missing)


def _unreadable(capture_request_id: int) -> dict[str, str]:
    """Decrypt the request's values with the app's keys and key store; return why each field
    that could not be read could not (empty: all decrypted). The drill's one call into
    personal-data decryption; what it decrypts is dropped here, unseen."""
    try:
        decrypt_request_values(capture_request_id)
    except UndecryptableValues as failed:  # DataKeyMissing too
        return dict(failed.problems)
    return {}
