"""``INSERT ... ON CONFLICT DO NOTHING`` on the databases Postern runs on (PostgreSQL, and
SQLite in tests): "record this once" in one round trip, with no savepoint to open and release.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from portal.extensions import db

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_unless_present(model: type, row: dict[str, Any], unique: InstrumentedAttribute) -> bool:
    """INSERT ``row`` unless a row with the same value in the ``unique`` column exists; True if
    this call inserted it. Joins the current transaction.

    On PostgreSQL, if another transaction has inserted the same value but not finished, this
    waits for it: "already present" once it commits, inserted here if it rolls back.
    """
    dialect = db.session.get_bind().dialect.name
    statement = _insert_or_nothing(dialect, model.__table__, unique.key)
    return db.session.execute(statement, row).first() is not None


@cache
def _insert_or_nothing(dialect: str, table: Table, unique: str) -> Insert:
    """The statement, built once: the row's values travel as parameters, so building and
    hashing the statement again for every row (a good part of its cost) is avoided."""
    return (
        _INSERT[dialect](table)
        .on_conflict_do_nothing(index_elements=[table.c[unique]])
        .returning(table.c[unique])
    )
