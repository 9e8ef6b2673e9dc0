"""The facts of each row's payment as SQL columns, for the transactions list, its filters, the
CSV export and the dashboard: refund totals and the latest dispute, joined once per query.

``portal.payments.standing`` derives what a payment reads as; the list and the portable CSV
writer hand it these columns row by row, while filters and PostgreSQL's COPY use its SQL twin
(``state_sql``, ``net_sql``) over the very same columns.

Refunds and disputes are joined as small grouped subqueries (one row per payment that has
any), not as a subquery per row: the export reads a million rows, and PostgreSQL aggregates
the refunds table once and hashes it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import aliased

from portal.i18n import N_
from portal.models.dispute import Dispute
from portal.models.payment import Payment, PaymentStatus
from portal.models.refund import Refund, RefundStatus
from portal.payments.standing import PaymentState
from portal.payments.standing_sql import net_sql, state_sql
from portal.refunds.queries import PENDING_STATUSES

P = PaymentState

refund_sums = (
    select(
        Refund.payment_id.label("payment_id"),
        func.sum(Refund.amount_minor)
        .filter(Refund.status == RefundStatus.SUCCEEDED.value)
        .label("refunded"),
        func.sum(Refund.amount_minor)
        .filter(Refund.status.in_(sorted(s.value for s in PENDING_STATUSES)))
        .label("pending"),
    )
    .group_by(Refund.payment_id)
    .subquery("refund_sums")
)
_newest_dispute = (
    select(Dispute.payment_id.label("payment_id"), func.max(Dispute.id).label("dispute_id"))
    .group_by(Dispute.payment_id)
    .subquery("newest_disputes")
)
dispute = aliased(Dispute, name="latest_dispute")

REFUNDED = func.coalesce(refund_sums.c.refunded, 0)
PENDING_REFUND = func.coalesce(refund_sums.c.pending, 0)

#: The payment's facts as the list's (and the export's) rows carry them.
COLUMNS = (
    Payment.amount_minor.label("payment_amount"),
    Payment.failed_attempts.label("failed_attempts"),
    Payment.failure_code.label("failure_code"),
    Payment.decline_code.label("decline_code"),
    REFUNDED.label("refunded_minor"),
    PENDING_REFUND.label("pending_refund_minor"),
    dispute.status.label("dispute_status"),
    dispute.amount_minor.label("dispute_amount_minor"),
    dispute.reason.label("dispute_reason"),
    dispute.evidence_due_by.label("dispute_evidence_due_by"),
)

#: Status filter values that are about the payment rather than the request, with their words.
PAYMENT_FILTERS: dict[str, str] = {
    P.PAID.value: N_("Paid"),
    P.REFUND_PENDING.value: N_("Refund pending"),
    P.PARTIALLY_REFUNDED.value: N_("Partially refunded"),
    P.REFUNDED.value: N_("Refunded"),
    "disputed": N_("Disputed (open or closed)"),
}


def join_payment_facts(query: Select) -> Select:
    """``query`` (already outer-joined to ``payments``) outer-joined to the refund totals and
    the latest dispute, so ``COLUMNS`` and ``state`` can be read."""
    return (
        query.outerjoin(refund_sums, refund_sums.c.payment_id == Payment.id)
        .outerjoin(_newest_dispute, _newest_dispute.c.payment_id == Payment.id)
        .outerjoin(dispute, dispute.id == _newest_dispute.c.dispute_id)
    )


def state(max_attempts: int) -> ColumnElement[str]:
    """``standing.state_of`` over the joined columns."""
    return state_sql(
        status=Payment.status,
        amount=Payment.amount_minor,
        failed_attempts=Payment.failed_attempts,
        max_attempts=max_attempts,
        failure_code=Payment.failure_code,
        decline_code=Payment.decline_code,
        refunded=REFUNDED,
        pending=PENDING_REFUND,
        dispute_status=dispute.status,
    )


def net() -> ColumnElement[int]:
    """``standing.money_of(...).net`` over the joined columns (PostgreSQL only)."""
    return net_sql(
        amount=Payment.amount_minor,
        refunded=REFUNDED,
        dispute_status=dispute.status,
        dispute_amount=dispute.amount_minor,
    )


def filter_clause(value: str, max_attempts: int) -> ColumnElement[bool]:
    """A WHERE condition for one of ``PAYMENT_FILTERS``. Each first requires a row of the few
    that could match (a refund total, a dispute, a succeeded payment): a condition on the
    outer-joined side that lets PostgreSQL make the join an inner one and start from those
    rows through an index. Then it checks the state the list shows, so the filter and the
    words always agree."""
    if value == "disputed":
        return _newest_dispute.c.dispute_id.is_not(None)
    if value == P.PAID.value:
        return and_(Payment.status == PaymentStatus.SUCCEEDED.value, state(max_attempts) == value)
    column = refund_sums.c.pending if value == P.REFUND_PENDING.value else refund_sums.c.refunded
    return and_(column > 0, state(max_attempts) == value)
