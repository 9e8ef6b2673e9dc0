"""The transactions queries: who may see which requests, the filters, pages and the export.

HTTP-free. Every query here is ``capture_requests`` joined to its agent, team and payment,
filtered by ``TransactionFilter`` and by the reader's scope, ordered newest first by
``(created_at, id)`` and read page by page with keyset pagination (``portal.reporting.keyset``)
or streamed whole (the CSV export) through a server-side cursor. The indexes that keep every
one of them fast at millions of rows are in ``portal/models/search_indexes.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, func, or_, select

from portal.capture import kinds, public_ids, states, visibility
from portal.disputes.wording import display_zone, due_words, reason_words
from portal.extensions import db
from portal.live_status import panel
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment
from portal.models.staff import StaffUser, Team
from portal.models.types import utcnow
from portal.money import format_known_amount
from portal.payments.attempt_limit import max_attempts
from portal.payments.standing import PaymentFacts, Standing, card_label, standing
from portal.reporting import keyset, payment_columns
from portal.reporting.filters import TransactionFilter
from portal.security.authz import Permission, has_permission

#: What the list (and the export) shows: nothing captured from the customer, no card number.
ROW_COLUMNS = (
    CaptureRequest.id,
    CaptureRequest.public_id,
    CaptureRequest.created_at,
    CaptureRequest.kind,
    CaptureRequest.status,
    CaptureRequest.expires_at,
    CaptureRequest.amount_minor,
    CaptureRequest.currency,
    CaptureRequest.reference,
    StaffUser.username.label("agent"),
    Team.name.label("team"),
    Payment.status.label("payment_status"),
    Payment.card_brand.label("card_brand"),
    Payment.card_last4.label("card_last4"),
    Payment.succeeded_at.label("paid_at"),
    *payment_columns.COLUMNS,
)
EXPORT_BATCH = 1000


def sees_everything(user: StaffUser) -> bool:
    return has_permission(user.role, Permission.TRANSACTIONS_VIEW_ALL)


def scope_clause(user: StaffUser) -> ColumnElement[bool] | None:
    """None for staff who see every request; otherwise what they may see (a supervisor: their
    own and their team's, the same rule as the agent console)."""
    return None if sees_everything(user) else visibility.visible_to(user)


def filter_clauses(flt: TransactionFilter, now: datetime) -> list[ColumnElement[bool]]:
    """One WHERE condition per field the filter sets."""
    clauses: list[ColumnElement[bool]] = []
    if flt.status in payment_columns.PAYMENT_FILTERS:
        clauses.append(payment_columns.filter_clause(flt.status, max_attempts()))
    elif flt.status:
        clauses.append(states.effective_status_filter(flt.status, now))
    if flt.kind:
        clauses.append(CaptureRequest.kind == flt.kind)
    if flt.date_from:
        clauses.append(CaptureRequest.created_at >= flt.created_from())
    if flt.date_to:
        clauses.append(CaptureRequest.created_at < flt.created_before())
    if flt.agent_id is not None:
        clauses.append(CaptureRequest.created_by_id == flt.agent_id)
    if flt.team_id is not None:
        clauses.append(CaptureRequest.team_id == flt.team_id)
    if flt.reference:
        clause = func.lower(CaptureRequest.reference) == flt.reference.lower()
        # A request id read out over the phone finds its request too (``public_ids``).
        ids = public_ids.candidates(flt.reference)
        clauses.append(or_(clause, CaptureRequest.public_id.in_(ids)) if ids else clause)
    if flt.currency and (flt.amount_min is not None or flt.amount_max is not None):
        clauses.append(CaptureRequest.currency == flt.currency)
    if flt.amount_min is not None:
        clauses.append(CaptureRequest.amount_minor >= flt.amount_min)
    if flt.amount_max is not None:
        clauses.append(CaptureRequest.amount_minor <= flt.amount_max)
    if flt.card_last4:
        clauses.append(Payment.card_last4 == flt.card_last4)
    return clauses


def transactions_query(
    user: StaffUser, flt: TransactionFilter, now: datetime | None = None
) -> Select:
    """Every request ``user`` may see that matches ``flt``, unordered (callers order)."""
    query = payment_columns.join_payment_facts(
        select(*ROW_COLUMNS)
        .select_from(CaptureRequest)
        .join(StaffUser, StaffUser.id == CaptureRequest.created_by_id)
        .outerjoin(Team, Team.id == CaptureRequest.team_id)
        .outerjoin(Payment, Payment.capture_request_id == CaptureRequest.id)
    )
    scope = scope_clause(user)
    if scope is not None:
        query = query.where(scope)
    return query.where(*filter_clauses(flt, now or utcnow()))


def _key(row: Row) -> keyset.TimeKey:
    return keyset.TimeKey(row.created_at, row.id)


def transactions_page(
    user: StaffUser,
    flt: TransactionFilter,
    direction: keyset.Direction,
    size: int = keyset.DEFAULT_PAGE_SIZE,
    now: datetime | None = None,
) -> keyset.Page:
    """One page of ``describe``d rows, newest first. Raises keyset.CursorError."""
    now = now or utcnow()
    page = keyset.time_keyset(
        transactions_query(user, flt, now),
        CaptureRequest.created_at,
        CaptureRequest.id,
        direction,
        size,
        _key,
    )
    limit = max_attempts()
    rows = [describe(row, now, limit) for row in page.rows]
    return keyset.Page(rows, page.older, page.newer)


def export_query(user: StaffUser, flt: TransactionFilter, now: datetime | None = None) -> Select:
    """Every matching row, newest first, to be read with ``stream``. Built up front (while
    ``user`` is still bound to the request's session): a streamed response outlives it."""
    return transactions_query(user, flt, now).order_by(
        CaptureRequest.created_at.desc(), CaptureRequest.id.desc()
    )


def stream(query: Select) -> Iterator[Row]:
    """The rows of ``query``, fetched ``EXPORT_BATCH`` at a time through a server-side cursor
    (``yield_per`` turns on ``stream_results``), so memory stays flat however many rows
    there are. Holds a transaction open until exhausted or closed."""
    # Through the session's connection: plain Core rows, no ORM loading machinery per row.
    connection = db.session.connection()
    result = connection.execute(query.execution_options(yield_per=EXPORT_BATCH))
    try:
        yield from result
    finally:
        result.close()


@dataclass(frozen=True)
class TransactionView:
    """A row as the list shows it. ``status_label`` is the request's status in words, or,
    once money was taken, what the payment reads as ("Paid", "Refunded", "Disputed")."""

    public_id: str
    created_at: datetime
    kind: str
    kind_label: str
    status: str
    status_label: str
    agent: str
    team: str | None
    reference: str | None
    amount: str | None
    currency: str | None
    payment_status: str | None
    card: str | None
    paid_at: datetime | None
    #: What the payment reads as (None: no payment yet).
    payment: Standing | None = None
    #: The latest dispute's reason and evidence deadline in words, once money was taken.
    dispute_note: str | None = None


# ``card_label`` (brand and last four digits, never more) lives with the payment's other words
# in ``portal.payments.standing``; the timeline imports it from here, as it always did.


def payment_facts(row: Row, limit: int) -> PaymentFacts | None:
    """The facts of the row's payment (``ROW_COLUMNS``), or None when it has none."""
    if row.payment_status is None:
        return None
    return PaymentFacts(
        status=row.payment_status,
        amount_minor=row.payment_amount,
        currency=row.currency or "",
        failed_attempts=row.failed_attempts or 0,
        max_attempts=limit,
        failure_code=row.failure_code,
        decline_code=row.decline_code,
        card_brand=row.card_brand,
        card_last4=row.card_last4,
        refunded_minor=int(row.refunded_minor or 0),
        pending_refund_minor=int(row.pending_refund_minor or 0),
        dispute_status=row.dispute_status,
        dispute_amount_minor=int(row.dispute_amount_minor or 0),
    )


def describe(row: Row, now: datetime, limit: int) -> TransactionView:
    status = states.effective_status(row, now)
    facts = payment_facts(row, limit)
    paid = standing(facts) if facts is not None else None
    label = paid.label if paid is not None and paid.money_taken else panel.LABELS[status]
    return TransactionView(
        public_id=row.public_id,
        created_at=row.created_at,
        kind=row.kind,
        kind_label=kinds.KINDS.get(row.kind, row.kind),
        status=status.value,
        status_label=label,
        agent=row.agent,
        team=row.team,
        reference=row.reference,
        amount=format_known_amount(row.amount_minor, row.currency),
        currency=row.currency,
        payment_status=paid.label if paid is not None else None,
        card=card_label(row.card_brand, row.card_last4),
        paid_at=row.paid_at,
        payment=paid,
        dispute_note=_dispute_note(row) if paid is not None and paid.money_taken else None,
    )


def _dispute_note(row: Row) -> str | None:
    """ "The cardholder says they did not make this payment; evidence due 14 Dec 2026 23:59 UK
    time" for the row's latest dispute, or None without one."""
    if row.dispute_status is None:
        return None
    note = reason_words(row.dispute_reason)
    due = due_words(row.dispute_evidence_due_by, display_zone())
    return f"{note}; evidence due {due}" if due else note


def find_visible(user: StaffUser, public_id: str) -> CaptureRequest | None:
    """The request if ``user`` may see it in the back office, else None (answer 404)."""
    if sees_everything(user):
        return visibility.find_by_public_id(public_id)
    return visibility.find_visible(user, public_id)


def teams_for(user: StaffUser) -> dict[int, str]:
    """Teams ``user`` may filter on: all of them for those who see everything, else none (a
    supervisor's list is already their team's)."""
    if not sees_everything(user):
        return {}
    return dict(db.session.execute(select(Team.id, Team.name).order_by(Team.name)).all())


def agent_id_for(username: str) -> int | None:
    return db.session.execute(
        select(StaffUser.id).where(StaffUser.username == username)
    ).scalar_one_or_none()
