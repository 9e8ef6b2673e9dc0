"""``portal.payments.standing``'s rules in SQL, over whatever columns the caller joined: for the
back office's filters and PostgreSQL's COPY export, which must read a payment exactly as the
Python rule does (tests/unit/payments/test_standing.py runs both over the same facts).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, func, literal, or_

from portal.models.dispute import open_status_sql, withheld_sql
from portal.models.payment import PaymentStatus
from portal.payments.standing import D, P


def state_sql(
    *,
    status: ColumnElement,
    amount: ColumnElement,
    failed_attempts: ColumnElement,
    max_attempts: int,
    failure_code: ColumnElement,
    decline_code: ColumnElement,
    refunded: ColumnElement,
    pending: ColumnElement,
    dispute_status: ColumnElement,
) -> ColumnElement[str]:
    """``state_of`` as a SQL CASE over the given columns (refund sums already COALESCEd to 0;
    ``status`` NULL when there is no payment row). Branches in ``state_of``'s order."""
    S = PaymentStatus
    limit_reached = failed_attempts >= max_attempts
    succeeded = status == S.SUCCEEDED.value
    return case(
        (status.is_(None), literal(P.NOT_STARTED.value)),
        (and_(succeeded, open_status_sql(dispute_status)), P.DISPUTED.value),
        (and_(succeeded, dispute_status == D.LOST.value), P.DISPUTE_LOST.value),
        (and_(succeeded, pending > 0), P.REFUND_PENDING.value),
        (and_(succeeded, refunded >= amount), P.REFUNDED.value),
        (and_(succeeded, refunded > 0), P.PARTIALLY_REFUNDED.value),
        (and_(succeeded, dispute_status == D.WON.value), P.DISPUTE_WON.value),
        (succeeded, P.PAID.value),
        (and_(status == S.CANCELLED.value, limit_reached), P.FAILED.value),
        (status == S.CANCELLED.value, P.CANCELLED.value),
        (status == S.REQUIRES_ACTION.value, P.CONFIRMING.value),
        (status.in_([S.PROCESSING.value, S.REQUIRES_CAPTURE.value]), P.PROCESSING.value),
        (limit_reached, P.FAILED.value),
        (or_(_is_set(failure_code), _is_set(decline_code)), P.DECLINED.value),
        else_=P.ON_PAYMENT_PAGE.value,
    )


def net_sql(
    *,
    amount: ColumnElement,
    refunded: ColumnElement,
    dispute_status: ColumnElement,
    dispute_amount: ColumnElement,
) -> ColumnElement[int]:
    """``money_of(...).net`` in SQL (PostgreSQL: ``greatest``), for a payment whose money was
    taken; refunds COALESCEd to 0 by the caller."""
    withheld = case(
        (withheld_sql(dispute_status), dispute_amount),
        else_=0,
    )
    return func.greatest(amount - refunded - withheld, 0)


def _is_set(column: ColumnElement) -> ColumnElement[bool]:
    """SQL for Python's truthiness of an optional string: set and not empty."""
    return and_(column.is_not(None), column != "")
