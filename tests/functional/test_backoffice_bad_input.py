"""Generated junk in every back-office search field and page cursor: never a server error,
always either results or a message naming the field (role="alert")."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.web import login

NASTY = [
    "\x00",
    "a\x00b",
    "\u202eevil",
    "\ufeff",
    "' OR '1'='1' --",
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "%_\\",
    "-1",
    "1e309",
    "NaN",
    "٣٤",
    "99999999999999999999999",
    "9999-99-99",
    "31/02/2026",
    "1-99999999999",
    "99999999999999999-1",
    "Ω" * 300,
]
junk = st.one_of(st.text(max_size=80), st.sampled_from(NASTY), st.integers().map(str))
BOUNDED = settings(
    max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
TRANSACTION_FIELDS = [
    "status",
    "kind",
    "date_from",
    "date_to",
    "agent",
    "team",
    "reference",
    "currency",
    "amount_min",
    "amount_max",
    "card_last4",
    "per_page",
    "after",
    "before",
]
AUDIT_FIELDS = [
    "action",
    "actor",
    "target_type",
    "target_id",
    "date_from",
    "date_to",
    "per_page",
    "after",
    "before",
]


@pytest.fixture
def reader(app, make_staff):
    user = make_staff("backoffice", mfa=True, username="reader")
    client = app.test_client()
    login(client, user)
    return client


def check(response) -> None:
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert 'role="alert"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/backoffice/transactions", "/backoffice/transactions/export.csv"]
)
def test_transactions_filters_survive_junk(reader, path):
    """Proves: junk in any filter or page cursor of the transactions list and its CSV export gets
    results (200) or a 400 with a message (role="alert"), never a server error."""

    @BOUNDED
    @given(field=st.sampled_from(TRANSACTION_FIELDS), value=junk)
    def run(field, value):
        response = reader.get(path, query_string={field: value})
        check(response)
        response.close()

    run()


def test_audit_filters_survive_junk(reader):
    """Proves: junk in any filter or page cursor of the audit log gets results (200) or a 400
    with a message (role="alert"), never a server error."""

    @BOUNDED
    @given(field=st.sampled_from(AUDIT_FIELDS), value=junk)
    def run(field, value):
        check(reader.get("/backoffice/audit", query_string={field: value}))

    run()


def test_request_ids_survive_junk(reader):
    """Proves: a junk request id in the transaction detail path is answered 404 (or 405), never a
    server error."""

    @BOUNDED
    @given(value=junk)
    def run(value):
        response = reader.get("/backoffice/transactions/" + value.replace("/", "_"))
        assert response.status_code in (404, 405), response.status_code

    run()
