"""On PostgreSQL the CSV export is written by the database (COPY, ``export_copy``); everywhere
else by ``csv.writer`` (``export_format``). Both must write the same bytes for the same rows.

Each test builds the export query once and runs both writers over it in one transaction, so
any difference is the writers' own: quoting, neutralisation, timestamps, amounts, cards,
statuses, empty cells, line ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.functional.payment_standing_support import add_dispute, add_refund
from tests.support.backoffice_read import Req, seed
from tests.support.database import needs_postgres

pytestmark = [
    pytest.mark.postgres,
    needs_postgres("COPY is PostgreSQL's; elsewhere the export has only the csv.writer path"),
]
NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)

#: Every text a spreadsheet or a CSV reader could trip on.
AWKWARD = [
    "=1+1",
    "+44 20",
    "-5",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    "\nLF",
    "\uff1dFULLWIDTH",
    "a,b",
    'say "hi"',
    "two\nlines",
    "crlf\r\ninside",
    "\\.",
    "back\\slash",
    " padded ",
    "'already quoted",
    "Zoë & Ωμέγα 🙂",
    "",
]


def both_exports(app, user_id: int, args: dict | None = None, now: datetime = NOW):
    """(csv.writer's bytes, COPY's bytes, rows counted by each) for one export query."""
    from flask import g

    from portal.backoffice.transactions import parse_filter
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.reporting import export_copy, export_format, queries

    with app.test_request_context():
        user = g.staff_user = db.session.get(StaffUser, user_id)
        parsed = parse_filter(MultiDict(args or {}))
        assert parsed.ok
        query = queries.export_query(user, parsed.filter, now)
        portable, copied = [0], [0]
        written = "".join(export_format.csv_chunks(queries.stream(query), portable, now)).encode()
        by_copy = b"".join(export_copy.csv_chunks(db.session.connection(), query, now, copied))
        db.session.rollback()
    return written, by_copy, portable[0], copied[0]


def test_awkward_text_in_every_free_text_column_is_written_identically(app, make_staff):
    """Proves: references, agent usernames and team names with formula triggers, delimiters,
    quotes, line breaks, backslashes, non-ASCII and empty text come out of COPY exactly as
    csv.writer writes them."""
    team_agent = make_staff("agent", username="ann.other", team='=Team, "West"\nSide')
    office = make_staff("backoffice")
    seed(
        app,
        [
            Req(n + 1, NOW - timedelta(minutes=n), team_agent.id, team_agent.team_id, reference=ref)
            for n, ref in enumerate(AWKWARD)
        ],
    )
    written, by_copy, rows_written, rows_copied = both_exports(app, office.id)
    assert by_copy == written
    assert rows_written == rows_copied == len(AWKWARD)


def test_statuses_amounts_cards_and_missing_values_are_written_identically(app, make_staff):
    """Proves: lapsed links read "expired", every currency exponent (2, 0, 3, and a code the
    table does not know), data requests without an amount, every card brand Stripe names, a
    brand missing, no card, a request with no team, and timestamps cut to the second."""
    agent = make_staff("agent", team="North")
    loner = make_staff("agent")
    office = make_staff("backoffice")
    brands = ["visa", "mastercard", "amex", "diners", "discover", "eftpos_au", "jcb"]
    brands += ["unionpay", "cartes_bancaires", "link", "unknown", ""]
    at = [NOW - timedelta(minutes=n, microseconds=n * 7919) for n in range(60)]
    reqs = [
        Req(1, at[1], agent.id, agent.team_id, status="sent", expires_in=timedelta(0)),
        Req(2, at[2], agent.id, agent.team_id, status="opened", expires_in=timedelta(days=1)),
        Req(3, at[3], agent.id, agent.team_id, status="revoked", expires_in=timedelta(0)),
        Req(4, at[4], agent.id, agent.team_id, currency="JPY", amount_minor=1250),
        Req(5, at[5], agent.id, agent.team_id, currency="KWD", amount_minor=1250),
        Req(6, at[6], agent.id, agent.team_id, currency="XTS", amount_minor=5),
        Req(7, at[7], agent.id, agent.team_id, currency="GBP", amount_minor=7),
        Req(8, at[8], agent.id, agent.team_id, kind="data"),
        Req(9, at[9], loner.id, None, status="succeeded", paid_after=timedelta(seconds=1)),
        Req(10, at[10], agent.id, agent.team_id, amount_minor=123456789012),
    ]
    reqs += [
        Req(
            20 + n,
            at[20 + n],
            agent.id,
            agent.team_id,
            status="succeeded",
            paid_after=timedelta(minutes=2, microseconds=999999),
            card_brand=brand,
            card_last4="4242" if n % 4 else "0005",
        )
        for n, brand in enumerate(brands)
    ]
    reqs.append(Req(40, at[40], agent.id, agent.team_id, status="succeeded", card_last4=None))
    seed(app, reqs)

    written, by_copy, rows_written, rows_copied = both_exports(app, office.id)

    assert by_copy == written
    assert rows_written == rows_copied == len(reqs)
    assert "Eftpos_Au \u2022\u2022\u2022\u2022 4242" in written.decode()  # a brand really came out


def test_every_payment_state_refund_and_dispute_is_written_identically(app, make_staff):
    """Proves: the payment's words ("Refunded", "Declined", "Disputed"...), the amount refunded,
    the net and the dispute's status come out of COPY (``standing``'s SQL twin) exactly as the
    Python rule writes them, in every currency exponent, and the status filters agree."""
    from portal.extensions import db
    from portal.models.payment import Payment

    agent = make_staff("agent", team="North")
    office = make_staff("backoffice")
    paid = {"status": "succeeded", "paid_after": timedelta(minutes=1), "card_last4": "4242"}
    currencies = ["GBP", "JPY", "KWD"]
    reqs = [
        Req(
            n,
            NOW - timedelta(minutes=n),
            agent.id,
            agent.team_id,
            currency=currencies[n % 3],
            **paid,
        )
        for n in range(1, 16)
    ]
    reqs += [Req(n, NOW - timedelta(minutes=n), agent.id, agent.team_id) for n in range(16, 22)]
    reqs.append(Req(22, NOW - timedelta(minutes=22), agent.id, agent.team_id, kind="data"))
    seed(app, reqs)
    add_refund(app, "R000000001", 1250, "succeeded", office.id)
    add_refund(app, "R000000002", 250, "succeeded", office.id)
    add_refund(app, "R000000003", 250, "pending", office.id)
    add_refund(app, "R000000004", 1250, "failed", office.id)
    add_refund(app, "R000000005", 300, "requested", office.id)
    add_refund(app, "R000000005", 100, "succeeded", office.id)
    for n, status in enumerate(
        [
            "needs_response",
            "under_review",
            "won",
            "lost",
            "warning_needs_response",
            "warning_closed",
        ]
    ):
        add_dispute(app, f"R{6 + n:09d}", 1250, status)
    add_dispute(app, "R000000012", 1250, "won")
    add_refund(app, "R000000012", 500, "succeeded", office.id)
    payment_states = {
        16: {
            "status": "requires_payment_method",
            "decline_code": "insufficient_funds",
            "failed_attempts": 1,
        },
        17: {"status": "requires_action"},
        18: {"status": "processing"},
        19: {"status": "canceled", "failed_attempts": 50},
        20: {"status": "canceled"},
        21: {"status": "requires_payment_method", "failure_code": "", "decline_code": ""},
    }
    with app.app_context():
        for n, values in payment_states.items():
            db.session.query(Payment).filter_by(capture_request_id=n).update(values)
        db.session.commit()

    written, by_copy, rows_written, rows_copied = both_exports(app, office.id)
    assert by_copy == written
    assert rows_written == rows_copied == len(reqs)
    text = written.decode()
    for words in ("Refunded", "Partially refunded", "Refund pending", "Disputed", "Dispute won"):
        assert f'"{words}"' in text, words
    for words in ("Dispute lost", "Declined", "Confirming with their bank", "Failed", "Cancelled"):
        assert f'"{words}"' in text, words
    for status in ("refunded", "partially_refunded", "refund_pending", "paid", "disputed"):
        written, by_copy, rows_written, rows_copied = both_exports(
            app, office.id, {"status": status}
        )
        assert by_copy == written and rows_written == rows_copied > 0, status


def test_filters_and_scope_are_the_same_query(app, make_staff):
    """Proves: the COPY runs the export query itself, filters and a supervisor's scope
    included (the bound values reach it), not a copy of it."""
    north = make_staff("agent", team="North")
    south = make_staff("agent", team="South")
    supervisor = make_staff("supervisor", team="North")
    seed(
        app,
        [
            Req(n + 1, NOW - timedelta(hours=n), who.id, who.team_id, status=status)
            for n, (who, status) in enumerate(
                [(north, "sent"), (south, "sent"), (north, "expired"), (north, "sent")] * 5
            )
        ],
    )
    args = {"status": "sent", "date_from": (NOW - timedelta(days=1)).date().isoformat()}

    written, by_copy, rows_written, rows_copied = both_exports(app, supervisor.id, args)

    assert by_copy == written
    assert rows_written == rows_copied == 10  # North's "sent" rows only


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    references=st.lists(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
        min_size=1,
        max_size=8,
    )
)
def test_any_reference_is_written_identically(app, make_staff, references):
    """Proves, for generated text (any character PostgreSQL can store), that COPY and
    csv.writer agree byte for byte."""
    from sqlalchemy import text

    from portal.extensions import db

    office = make_staff("backoffice", team="Office")
    seed(
        app,
        [
            Req(n + 1, NOW - timedelta(minutes=n), office.id, office.team_id, reference=ref)
            for n, ref in enumerate(references)
        ],
    )
    try:
        written, by_copy, _, rows = both_exports(app, office.id)
        assert by_copy == written and rows == len(references)
    finally:
        with app.app_context():
            db.session.execute(text("DELETE FROM payments"))
            db.session.execute(text("DELETE FROM capture_requests"))
            db.session.commit()
