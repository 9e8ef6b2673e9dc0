"""Helpers for the back-office tests: bulk-generated capture requests, payments and audit rows.

Rows are generated in Python and loaded in bulk: COPY on PostgreSQL, a DB-API executemany on
SQLite (100,000 requests load in about a second either way). Ids are explicit so payments can
point at their requests; PostgreSQL's id sequences are moved past them afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import text

from portal.audit.chain import HASHED_FIELDS

REQUEST_COLUMNS = (
    "id",
    "public_id",
    "kind",
    "status",
    "created_by_id",
    "team_id",
    "amount_minor",
    "currency",
    "reference",
    "purpose",
    "readback_code",
    "link_nonce_hash",
    "link_issued_at",
    "link_channel",
    "expires_at",
    "created_at",
    "updated_at",
    "sent_at",
    "finished_at",
    "identity_failures",
    "extension_count",
    "resend_count",
)
PAYMENT_COLUMNS = (
    "id",
    "capture_request_id",
    "intent_generation",
    "stripe_payment_intent_id",
    "amount_minor",
    "currency",
    "status",
    "card_brand",
    "card_last4",
    "failed_attempts",
    "created_at",
    "updated_at",
    "succeeded_at",
)
AUDIT_COLUMNS = (*HASHED_FIELDS, "row_hash")
_NONCE = "0" * 64


@dataclass(frozen=True)
class Req:
    """One request to generate; ``paid_after`` makes a succeeded payment that long after the
    link was sent."""

    id: int
    created_at: datetime
    agent_id: int
    team_id: int | None
    status: str = "sent"
    kind: str = "payment"
    amount_minor: int | None = 1250
    currency: str | None = "GBP"
    reference: str | None = None
    purpose: str | None = None
    expires_in: timedelta = timedelta(days=3650)
    paid_after: timedelta | None = None
    card_brand: str = "visa"
    card_last4: str | None = None

    def public_id(self) -> str:
        return f"R{self.id:09d}"


def request_row(req: Req) -> tuple:
    sent_at = req.created_at
    finished = req.created_at + req.paid_after if req.paid_after is not None else None
    return (
        req.id,
        req.public_id(),
        req.kind,
        req.status,
        req.agent_id,
        req.team_id,
        req.amount_minor if req.kind != "data" else None,
        req.currency if req.kind != "data" else None,
        req.reference if req.reference is not None else f"REF-{req.id}",
        req.purpose,
        "ABC123",
        _NONCE,
        req.created_at,
        "copy",
        req.created_at + req.expires_in,
        req.created_at,
        req.created_at,
        sent_at,
        finished,
        0,
        0,
        0,
    )


def payment_row(req: Req, payment_id: int) -> tuple:
    paid = req.paid_after is not None
    return (
        payment_id,
        req.id,
        1,
        f"pi_test_{req.id}",
        req.amount_minor or 0,
        req.currency or "GBP",
        "succeeded" if paid else "requires_payment_method",
        req.card_brand if paid else None,
        req.card_last4 if paid else None,
        0,
        req.created_at,
        req.created_at,
        req.created_at + req.paid_after if paid else None,
    )


def _sqlite_converter(columns: Sequence[str]):
    """Turn a row into what SQLAlchemy would have stored on SQLite: datetimes as naive UTC
    text with microseconds, dicts as JSON. Only the columns that need it are touched."""
    times = [i for i, name in enumerate(columns) if name.endswith("_at")]
    jsons = [i for i, name in enumerate(columns) if name == "details"]
    last: list = [None, None]

    def as_text(value: datetime) -> str:
        if value is not last[0]:
            last[0] = value
            last[1] = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return last[1]

    def convert(row: tuple) -> tuple:
        row = list(row)
        for i in times:
            if row[i] is not None:
                row[i] = as_text(row[i])
        for i in jsons:
            row[i] = json.dumps(row[i])
        return tuple(row)

    return convert


def bulk_insert(db, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Load ``rows`` into ``table`` in the current transaction; returns how many. The caller
    commits."""
    connection = db.session.connection()
    count = 0
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(json.dumps(v) if isinstance(v, dict) else v for v in row))
                count += 1
        cursor.close()
        if "id" in columns:
            # ``table`` is one of our own table names, never input.
            move = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: E501, S608
            connection.execute(text(move))
        return count
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    batch: list[tuple] = []
    raw = connection.connection.driver_connection
    convert = _sqlite_converter(columns)
    for row in rows:
        batch.append(convert(row))
        if len(batch) == 5000:
            raw.executemany(sql, batch)
            count += len(batch)
            batch.clear()
    if batch:
        raw.executemany(sql, batch)
        count += len(batch)
    return count


def seed(app, reqs: Sequence[Req], *, first_payment_id: int = 1) -> None:
    """Insert the requests and, for payment and payment-and-data ones, their payments."""
    from portal.extensions import db

    with app.app_context():
        bulk_insert(db, "capture_requests", REQUEST_COLUMNS, (request_row(r) for r in reqs))
        payments = (
            payment_row(r, n)
            for n, r in enumerate((r for r in reqs if r.kind != "data"), start=first_payment_id)
        )
        bulk_insert(db, "payments", PAYMENT_COLUMNS, payments)
        db.session.commit()


def many(
    count: int,
    *,
    agents: Sequence[tuple[int, int | None]],
    newest: datetime,
    spacing: timedelta = timedelta(seconds=1),
    first_id: int = 1,
    **fields,
) -> list[Req]:
    """``count`` requests spread over ``agents`` ((agent id, team id) pairs), one every
    ``spacing`` going back from ``newest``; ``fields`` apply to all of them."""
    return [
        Req(
            id=first_id + n,
            created_at=newest - spacing * n,
            agent_id=agents[n % len(agents)][0],
            team_id=agents[n % len(agents)][1],
            **fields,
        )
        for n in range(count)
    ]


def chained_audit_rows(count: int, key: bytes, *, start: datetime) -> Iterable[tuple]:
    """``count`` audit rows forming a valid hash chain (as portal.audit.service writes it)."""
    from portal.audit.chain import compute_hash
    from portal.models.audit import GENESIS_HASH

    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        event = SimpleNamespace(
            seq=seq,
            occurred_at=start + timedelta(milliseconds=seq),
            actor_id=None,
            actor_label="system",
            actor_role=None,
            action="bench.event",
            target_type="bench",
            target_id=str(seq),
            outcome="success",
            ip=None,
            user_agent=None,
            details={"n": seq},
            prev_hash=prev,
        )
        event.row_hash = compute_hash(event, key)
        prev = event.row_hash
        yield tuple(getattr(event, column) for column in AUDIT_COLUMNS)
