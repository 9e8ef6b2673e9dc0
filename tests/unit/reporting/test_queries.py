"""Building the transactions queries: scope, the filters, the columns shown."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql

from portal.models.staff import StaffUser
from portal.reporting import queries
from portal.reporting.filters import TransactionFilter

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def sql(clause) -> str:
    return str(
        clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": False})
    )


def test_those_who_see_everything_get_no_scope_clause():
    for role in ("backoffice", "admin", "auditor"):
        assert queries.scope_clause(StaffUser(id=1, role=role, team_id=2)) is None


def test_supervisors_are_scoped_to_their_own_and_their_teams_requests():
    clause = sql(queries.scope_clause(StaffUser(id=1, role="supervisor", team_id=2)))
    assert "capture_requests.created_by_id = " in clause
    assert "capture_requests.team_id = " in clause


def test_a_supervisor_without_a_team_sees_only_their_own():
    clause = sql(queries.scope_clause(StaffUser(id=1, role="supervisor", team_id=None)))
    assert clause.startswith("capture_requests.created_by_id = ")
    assert "team_id" not in clause


def test_every_filter_field_adds_one_condition():
    flt = TransactionFilter(
        status="failed",
        kind="payment",
        date_from=NOW.date(),
        date_to=NOW.date(),
        agent_id=3,
        team_id=4,
        reference="ACC",
        currency="GBP",
        amount_min=1,
        amount_max=2,
        card_last4="4242",
    )
    clauses = [sql(c) for c in queries.filter_clauses(flt, NOW)]
    assert len(clauses) == 11
    assert "lower(capture_requests.reference) = " in clauses[6]
    assert "payments.card_last4 = " in clauses[-1]


def test_the_list_never_selects_anything_captured_or_secret():
    names = {column.key for column in queries.ROW_COLUMNS}
    assert not names & {
        "identity_hash",
        "link_nonce_hash",
        "bound_secret_hash",
        "readback_code",
        "purpose",
        "stripe_payment_intent_id",
    }


def test_cards_as_the_list_shows_them():
    assert queries.card_label("visa", "4242") == "Visa \u2022\u2022\u2022\u2022 4242"
    assert queries.card_label(None, "4242") == "Card \u2022\u2022\u2022\u2022 4242"
    assert queries.card_label("visa", None) is None
