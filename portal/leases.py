"""Lease-and-claim queues: a table of jobs that any number of workers, on any number of hosts,
work through together, with the database deciding which worker holds which row.

Serves the delivery outbox (``portal.delivery.claims``) and the Stripe webhook inbox
(``portal.stripe_events.inbox``), and any queue to come, the same way:

- **Claim.** Due rows are picked, oldest first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
  concurrent workers take different rows instead of waiting on each other), then leased by one
  UPDATE naming them, which re-checks that each is still due and hands the leased rows back
  through ``RETURNING``. Two workers therefore never hold the same row. (Not one UPDATE with the
  pick as its subquery: PostgreSQL may run a ``LIMIT`` subquery more than once and lease more
  rows than asked for.)
- **Lease.** A claim writes who holds the row (``claimed_by``) and until when
  (``claimed_until``), and counts the attempt. A worker that dies holding rows strands nothing:
  its leases lapse and the rows are due again, for whoever comes next.
- **Release.** Whatever a worker makes of a row (done, failed, retry later), it writes with
  ``release``, which clears the lease, and only while this worker still holds it: a worker that
  stalled past its lease cannot overwrite the work of the one that took over.
- **Retry.** ``backoff`` says how long to wait before the next attempt (exponential, capped,
  with jitter: ``portal.workers.retry_delay``), or None once every attempt is used.

A queue's table has the columns ``id`` (primary key), ``attempts``, ``next_attempt_at``,
``claimed_by`` and ``claimed_until``; which rows are due is the queue's own ``due``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Row, or_, select, update

from portal.extensions import db
from portal.workers import retry_delay


def _nothing_more(now: datetime) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class LeaseQueue:
    """One table worked as a queue. The ``*_setting`` fields name configuration keys, so each
    app (and each test) sizes its own leases and retries."""

    model: type
    #: Which rows may be claimed at ``now``: due and not held by a live lease.
    due: Callable[[datetime], ColumnElement[bool]]
    lease_seconds_setting: str
    max_attempts_setting: str
    retry_base_setting: str
    retry_max_setting: str
    #: More columns a claim sets (e.g. a status), given the claim's ``now``.
    claimed_values: Callable[[datetime], Mapping[str, Any]] = field(default=_nothing_more)

    def claim(self, now: datetime, batch: int, worker_id: str) -> list[Row]:
        """Lease up to ``batch`` rows due at ``now`` for ``worker_id``. Returns them in the
        order they fell due, as rows of the table's columns after the claim (``attempts``
        counts this one).

        Joins the current transaction and does not end it: the caller commits, so that
        whatever else belongs with the claim (an attempt row) is committed with it.
        """
        model = self.model
        config = current_app.config
        # Rows this worker still holds are its own to take back: between batches it has nothing
        # in flight, so they were left by a batch the database cut short. Without this they
        # would wait out the lease (minutes) while the same worker polls again.
        claimable = or_(self.due(now), model.claimed_by == worker_id)
        candidates = (
            select(model.id).where(claimable).order_by(model.next_attempt_at, model.id).limit(batch)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        picked = db.session.execute(candidates).scalars().all()
        if not picked:
            return []
        lease_until = now + timedelta(seconds=config[self.lease_seconds_setting])
        leased = db.session.execute(
            update(model)
            .where(model.id.in_(picked), claimable)
            .values(
                claimed_by=worker_id,
                claimed_until=lease_until,
                attempts=model.attempts + 1,
                **self.claimed_values(now),
            )
            .returning(*model.__table__.columns)
            .execution_options(synchronize_session=False)
        ).all()
        return sorted(leased, key=lambda row: (row.next_attempt_at, row.id))

    def release(
        self,
        row_id: int,
        *,
        held_by: str | None,
        where: Iterable[ColumnElement[bool]] = (),
        **values: Any,
    ) -> int:
        """Give row ``row_id`` back with ``values`` written, its lease cleared. Only while
        ``held_by`` still holds it; ``held_by=None`` releases it whoever holds it (a result that
        must be kept even if the lease lapsed meanwhile). ``where`` adds conditions.

        Returns how many rows changed (0 or 1). Joins the current transaction; the caller
        commits.
        """
        model = self.model
        conditions = [model.id == row_id, *where]
        if held_by is not None:
            conditions.append(model.claimed_by == held_by)
        return db.session.execute(
            update(model)
            .where(*conditions)
            .values(claimed_by=None, claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        ).rowcount

    def backoff(self, attempt: int) -> timedelta | None:
        """How long to wait after attempt number ``attempt`` (1-based) failed, or None when it
        was the last one allowed."""
        config = current_app.config
        if attempt >= config[self.max_attempts_setting]:
            return None
        return retry_delay(attempt, config[self.retry_base_setting], config[self.retry_max_setting])
