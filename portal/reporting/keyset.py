"""Keyset pagination: pages of rows ordered newest first by a (timestamp, id) or (seq) key.

No OFFSET anywhere: a page is "the next n rows after this key", answered from an index by
reading n rows, whatever page the reader is on. Cursors are opaque-looking but plain text
("<microseconds since epoch>-<id>"): they hold a position, never anything personal, and a
tampered cursor is simply refused (or, if well-formed, shows another valid page the reader was
allowed to see anyway).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, tuple_

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_CURSOR = re.compile(r"^(\d{1,17})-(\d{1,10})$", re.ASCII)
#: Row ids and seqs are 32- and 64-bit in the database: a bigger cursor is not one we made.
MAX_ID, MAX_SEQ = 2**31 - 1, 2**63 - 1
_SEQ_CURSOR = re.compile(r"^\d{1,18}$", re.ASCII)
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50


class CursorError(ValueError):
    """A cursor that is not one this module made."""


@dataclass(frozen=True)
class TimeKey:
    at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.id}"

    @classmethod
    def decode(cls, text: str) -> TimeKey:
        """Raises CursorError for anything but ``<micros>-<id>``."""
        match = _TIME_CURSOR.match(text or "")
        if not match:
            raise CursorError("That page link is not valid. Start again from the first page.")
        at = _EPOCH + timedelta(microseconds=int(match.group(1)))
        if int(match.group(2)) > MAX_ID:
            raise CursorError("That page link is not valid. Start again from the first page.")
        return cls(at, int(match.group(2)))


def decode_seq(text: str) -> int:
    """A seq cursor (a whole number). Raises CursorError."""
    if not _SEQ_CURSOR.match(text or "") or int(text) > MAX_SEQ:
        raise CursorError("That page link is not valid. Start again from the first page.")
    return int(text)


@dataclass(frozen=True)
class Page:
    """One page of rows, newest first, and the cursors to its neighbours (None: no more)."""

    rows: Sequence[Any]
    older: str | None
    newer: str | None


@dataclass(frozen=True)
class Direction:
    """Where the page starts: after ``cursor`` (older rows) or before it (newer rows)."""

    after: str | None = None
    before: str | None = None


def time_page_select(
    query: Select,
    at_column: ColumnElement,
    id_column: ColumnElement,
    direction: Direction,
    size: int,
) -> Select:
    """The statement for one page (``size + 1`` rows, to learn whether there is more): newest
    first after a cursor, or oldest first before one (the caller reverses those). Raises
    CursorError. The row comparison ``(at, id) < (:at, :id)`` is what lets the database walk
    the composite index instead of sorting."""
    columns = tuple_(at_column, id_column)

    def bound(key: TimeKey):
        return tuple_(literal(key.at, at_column.type), literal(key.id, id_column.type))

    if direction.before:
        key = TimeKey.decode(direction.before)
        return (
            query.where(columns > bound(key))
            .order_by(at_column.asc(), id_column.asc())
            .limit(size + 1)
        )
    if direction.after:
        query = query.where(columns < bound(TimeKey.decode(direction.after)))
    return query.order_by(at_column.desc(), id_column.desc()).limit(size + 1)


def time_keyset(
    query: Select,
    at_column: ColumnElement,
    id_column: ColumnElement,
    direction: Direction,
    size: int,
    key_of: Callable[[Any], TimeKey],
) -> Page:
    """Run ``query`` for one page ordered by ``(at_column, id_column)`` descending.
    ``key_of(row)`` returns a row's key. Raises CursorError for a malformed cursor."""
    from portal.extensions import db  # late: keeps this module importable without an app

    statement = time_page_select(query, at_column, id_column, direction, size)
    rows = list(db.session.execute(statement))
    if direction.before:
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return Page(
            rows,
            older=key_of(rows[-1]).encode() if rows else direction.before,
            newer=key_of(rows[0]).encode() if rows and more_newer else None,
        )
    more_older = len(rows) > size
    rows = rows[:size]
    return Page(
        rows,
        older=key_of(rows[-1]).encode() if rows and more_older else None,
        newer=key_of(rows[0]).encode() if rows and direction.after else None,
    )


def seq_keyset(query: Select, seq_column: ColumnElement, direction: Direction, size: int) -> Page:
    """One page ordered by a unique, increasing ``seq_column``, newest (highest) first.
    Rows must expose ``.seq``. Raises CursorError for a malformed cursor."""
    from portal.extensions import db

    if direction.before:
        seq = decode_seq(direction.before)
        rows = list(
            db.session.execute(
                query.where(seq_column > seq).order_by(seq_column.asc()).limit(size + 1)
            )
        )
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return Page(
            rows,
            older=str(rows[-1].seq) if rows else direction.before,
            newer=str(rows[0].seq) if rows and more_newer else None,
        )
    if direction.after:
        query = query.where(seq_column < decode_seq(direction.after))
    rows = list(db.session.execute(query.order_by(seq_column.desc()).limit(size + 1)))
    more_older = len(rows) > size
    rows = rows[:size]
    return Page(
        rows,
        older=str(rows[-1].seq) if rows and more_older else None,
        newer=str(rows[0].seq) if rows and direction.after else None,
    )


def page_size(text: str | None) -> int:
    """The requested page size if it is one we offer, else the default."""
    try:
        size = int(text or DEFAULT_PAGE_SIZE)
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
