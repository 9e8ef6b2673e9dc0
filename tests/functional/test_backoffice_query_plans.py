"""PostgreSQL answers every transactions query from an index: no sequential scan of
capture_requests for the first page, a later page, or any single filter, on 20,000 rows
(enough that the planner prefers a Seq Scan whenever no index fits).

The plans are read with EXPLAIN on the very statements the list runs, built by
``portal.reporting.queries`` and ``keyset.time_page_select``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from tests.support.backoffice_read import Req, seed
from tests.support.database import needs_postgres

pytestmark = [
    pytest.mark.postgres,
    needs_postgres("the plans checked here are PostgreSQL's; SQLite's planner is another program"),
]
ROWS = 20_000
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STATUSES = ("sent", "opened", "succeeded", "failed", "expired", "revoked")


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement):
        self.statement = statement


@compiles(Explain, "postgresql")
def _explain(element, compiler, **kw):
    return "EXPLAIN " + compiler.process(element.statement, **kw)


@pytest.fixture
def big(app, make_staff):
    agents = [make_staff("agent", username=f"a{n}", team=f"Team {n % 8}") for n in range(40)]
    reqs = [
        Req(
            n,
            NOW - timedelta(minutes=n),
            agents[n % 40].id,
            agents[n % 40].team_id,
            status=STATUSES[n % len(STATUSES)],
            amount_minor=100 + (n * 37) % 90_000,
            paid_after=timedelta(minutes=1) if n % 3 == 0 else None,
            card_last4=f"{n % 10_000:04d}",
        )
        for n in range(1, ROWS + 1)
    ]
    seed(app, reqs)
    make_staff("backoffice", username="reader")
    make_staff("supervisor", username="sup", team="Team 3")
    from portal.extensions import db

    with app.app_context():
        # Refunds (one paid payment in 60) and disputes (one in 90), so the plans reading them
        # are PostgreSQL's real choices, not those of empty tables. (With one in 20 on only
        # 20,000 rows, hashing the whole small payments table is cheaper than 300 index
        # probes, and PostgreSQL rightly picks it: this is about shape, not a tiny table.)
        from sqlalchemy import insert

        from portal.models.dispute import Dispute
        from portal.models.refund import Refund

        paid = list(range(3, ROWS + 1, 3))  # the paid ones (n % 3 == 0)
        db.session.execute(
            insert(Refund),
            [
                {
                    "payment_id": n,
                    "amount_minor": 100,
                    "currency": "GBP",
                    "reason_code": "goodwill",
                    "status": ("succeeded", "pending", "failed")[n % 3],
                    "requested_by_id": agents[0].id,
                }
                for n in paid[::60]
            ],
        )
        db.session.execute(
            insert(Dispute),
            [
                {
                    "payment_id": n,
                    "stripe_dispute_id": f"dp_{n}",
                    "amount_minor": 100,
                    "currency": "GBP",
                    "reason": "fraudulent",
                    "status": ("needs_response", "won", "lost")[n % 3],
                }
                for n in paid[::90]
            ],
        )
        for table in (
            "capture_requests",
            "payments",
            "refunds",
            "disputes",
            "staff_users",
            "teams",
        ):
            db.session.execute(text(f"ANALYZE {table}"))
        db.session.commit()
    return agents


def plan_for(app, username: str, now: datetime = NOW, after: str | None = None, **filters):
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.staff import StaffUser
    from portal.reporting import keyset, queries
    from portal.reporting.filters import TransactionFilter

    with app.app_context():
        user = db.session.query(StaffUser).filter_by(username=username).one()
        flt = TransactionFilter(timezone="Europe/London", **filters)
        statement = keyset.time_page_select(
            queries.transactions_query(user, flt, now),
            CaptureRequest.created_at,
            CaptureRequest.id,
            keyset.Direction(after=after),
            50,
        )
        return "\n".join(row[0] for row in db.session.execute(Explain(statement)))


SHAPES = {
    "first page": {},
    "status succeeded": {"status": "succeeded"},
    "status sent (not lapsed)": {"status": "sent"},
    "status expired (stored or lapsed)": {"status": "expired"},
    "kind": {"kind": "payment"},
    "reference": {"reference": "ref-1234"},
    "card last4": {"card_last4": "0042"},
    "amount range": {"currency": "GBP", "amount_min": 4_200, "amount_max": 4_300},
    "date range": {"date_from": date(2026, 5, 20), "date_to": date(2026, 5, 21)},
    "status paid": {"status": "paid"},
    "status refunded": {"status": "refunded"},
    "status partially refunded": {"status": "partially_refunded"},
    "status disputed": {"status": "disputed"},
}


def test_every_query_shape_is_answered_from_an_index(app, big):
    """One seeding, every shape (seeding 20,000 rows per shape would make this slow)."""
    from portal.reporting.keyset import TimeKey

    agent = big[7]
    plans = {name: plan_for(app, "reader", **filters) for name, filters in SHAPES.items()}
    plans["agent"] = plan_for(app, "reader", agent_id=agent.id, agent=agent.username)
    # One team in eight: reading the newest-first index and skipping other teams' rows is as
    # cheap as the team index for one page, and PostgreSQL may choose either: both are fine.
    plans["team"] = plan_for(app, "reader", team_id=agent.team_id)
    plans["supervisor's team scope"] = plan_for(app, "sup")
    cursor = TimeKey(NOW - timedelta(minutes=10_000), 10_000).encode()
    plans["a later page"] = plan_for(app, "reader", after=cursor)

    scanned = {
        name: plan
        for name, plan in plans.items()
        if "Seq Scan on capture_requests" in plan or "Seq Scan on payments" in plan
    }
    assert not scanned, "\n\n".join(f"{name}:\n{plan}" for name, plan in scanned.items())
    assert "ix_capture_requests_created_by_id_created_at_id" in plans["agent"], plans["agent"]
    later = plans["a later page"]
    assert "ix_capture_requests_created_at_id" in later and "Sort" not in later, later
