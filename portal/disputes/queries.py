"""Read-only questions about disputes that pages, exports, the dashboard and the agent panel
ask. Names here are relied on by those callers: keep them stable."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, func, select

from portal.extensions import db
from portal.models.dispute import (
    Dispute,
    DisputeStatus,
    open_status_sql,
    refund_blocking_sql,
)


def open_dispute_for(payment_id: int) -> Dispute | None:
    """The payment's open dispute or inquiry (the newest, should Stripe ever open two), or
    None. Which statuses are open: ``portal.models.dispute``."""
    return _newest(payment_id, open_status_sql(Dispute.status))


def refund_blocking_dispute_for(payment_id: int) -> Dispute | None:
    """The payment's newest open dispute that forbids a refund (a chargeback, not an inquiry:
    ``portal.models.dispute.status_blocks_refund``), or None."""
    return _newest(payment_id, refund_blocking_sql(Dispute.status))


def _newest(payment_id: int, condition) -> Dispute | None:
    return db.session.execute(
        select(Dispute)
        .where(Dispute.payment_id == payment_id, condition)
        .order_by(Dispute.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def charged_back_minor(payment_id: int) -> int:
    """What disputes the cardholder won (``lost`` for us) took back from the payment: money
    already returned to them through their bank, so no longer refundable."""
    return int(
        db.session.execute(
            select(func.coalesce(func.sum(Dispute.amount_minor), 0)).where(
                Dispute.payment_id == payment_id, Dispute.status == DisputeStatus.LOST
            )
        ).scalar_one()
    )


def disputes_of(payment_id: int) -> list[Dispute]:
    """Every dispute of the payment, oldest first."""
    return list(
        db.session.execute(
            select(Dispute).where(Dispute.payment_id == payment_id).order_by(Dispute.id)
        ).scalars()
    )


def latest_disputes(payment_ids: Iterable[int]) -> dict[int, Dispute]:
    """``{payment_id: newest dispute}`` for those of the given payments that have one (open or
    closed). One query, whatever the number of ids."""
    ids = list(dict.fromkeys(payment_ids))
    if not ids:
        return {}
    found: dict[int, Dispute] = {}
    for dispute in db.session.execute(
        select(Dispute).where(Dispute.payment_id.in_(ids)).order_by(Dispute.id)
    ).scalars():
        found[dispute.payment_id] = dispute  # ordered by id: the newest wins
    return found


def disputed_payment_ids(*, open_only: bool = False) -> Select:
    """A SELECT of the ids of payments with a dispute (only open ones if ``open_only``), for
    ``Payment.id.in_(...)`` in a filter ("disputed")."""
    query = select(Dispute.payment_id)
    if open_only:
        query = query.where(open_status_sql(Dispute.status))
    return query
