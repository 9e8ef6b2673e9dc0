"""The audit trail as its readers see it: the sealed chain and the rows still pending, together.

A row is pending from the moment its action commits until the sealer links it into the chain,
usually within a second (``portal.audit.sealer``). A reader that must not miss it in that
second (a request's timeline, the data-subject export, "was this step shown already?", the
security alerts' counts of a time window) selects from ``trail()``: the same columns as
``audit_events``, with ``seq`` None on pending rows, which ``in_order`` puts after the sealed
ones, in the order they were written. The back office's audit log pages by ``seq`` and shows
sealed rows only.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Subquery, cast, literal, null, select, union_all

from portal.audit.pending import CHAIN, CONTENT, PENDING
from portal.audit.service import write_held
from portal.extensions import db

_COLUMNS = (*CONTENT, "lane", "lane_seq")


def trail() -> Subquery:
    """Sealed and pending audit rows, as one selectable (``.c.action``, ``.c.target_id`` ...).
    The rows the current transaction has recorded are written first (``write_held``), so that
    they are among them, as the ORM's autoflush would have them."""
    write_held(db.session())
    sealed = select(
        CHAIN.c.id,
        CHAIN.c.seq,
        cast(null(), BigInteger).label("pending_id"),
        *(CHAIN.c[name] for name in _COLUMNS),
    )
    pending = select(
        # Negative: never the id of a sealed row, for readers that count distinct ids.
        (literal(0) - PENDING.c.id).label("id"),
        cast(null(), BigInteger).label("seq"),
        PENDING.c.id.label("pending_id"),
        *(PENDING.c[name] for name in _COLUMNS),
    )
    return union_all(sealed, pending).subquery("audit_trail")


def in_order(rows: Subquery) -> tuple:
    """ORDER BY clauses for ``trail()``: the chain's order, then pending rows as written."""
    return (rows.c.seq.is_(None), rows.c.seq, rows.c.pending_id)
