"""Keyset cursors and page statements: no OFFSET, row comparison, strict cursors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from portal.models.capture import CaptureRequest
from portal.reporting import keyset


def test_a_time_cursor_round_trips_to_the_microsecond():
    key = keyset.TimeKey(datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC), 42)
    assert keyset.TimeKey.decode(key.encode()) == key


@pytest.mark.parametrize(
    "text",
    ["", "1", "abc-1", "1-", "-1", "1-2-3", "1.5-2", "9" * 18 + "-1", "1-' OR 1=1", "1-2147483648"],
)
def test_anything_else_is_refused(text):
    with pytest.raises(keyset.CursorError):
        keyset.TimeKey.decode(text)


def test_seq_cursors_are_whole_numbers_only():
    assert keyset.decode_seq("123") == 123
    for bad in ("", "-1", "1.0", "x", str(2**63)):
        with pytest.raises(keyset.CursorError):
            keyset.decode_seq(bad)


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["pg", "sqlite"])
def test_a_page_statement_compares_rows_and_never_offsets(dialect):
    cursor = keyset.TimeKey(datetime(2026, 3, 1, tzinfo=UTC), 7).encode()
    statement = keyset.time_page_select(
        select(CaptureRequest.id),
        CaptureRequest.created_at,
        CaptureRequest.id,
        keyset.Direction(after=cursor),
        50,
    )
    compiled = statement.compile(dialect=dialect)
    sql = str(compiled).upper()
    # SQLite's compiler always writes "LIMIT ? OFFSET ?"; the offset it binds is 0.
    assert (
        "OFFSET" not in sql or sql.endswith("OFFSET ?") and list(compiled.params.values())[-1] == 0
    )
    assert "(CAPTURE_REQUESTS.CREATED_AT, CAPTURE_REQUESTS.ID) <" in sql
    assert "ORDER BY CAPTURE_REQUESTS.CREATED_AT DESC, CAPTURE_REQUESTS.ID DESC" in sql


def test_going_back_reads_forwards_from_the_cursor():
    cursor = keyset.TimeKey(datetime(2026, 3, 1, tzinfo=UTC), 7).encode()
    statement = keyset.time_page_select(
        select(CaptureRequest.id),
        CaptureRequest.created_at,
        CaptureRequest.id,
        keyset.Direction(before=cursor),
        25,
    )
    sql = str(statement.compile(dialect=postgresql.dialect()))
    assert "(capture_requests.created_at, capture_requests.id) >" in sql
    assert "ORDER BY capture_requests.created_at ASC, capture_requests.id ASC" in sql


@pytest.mark.parametrize(
    ("text", "size"), [("25", 25), ("100", 100), ("7", 50), ("x", 50), (None, 50)]
)
def test_page_sizes_are_those_offered(text, size):
    assert keyset.page_size(text) == size
