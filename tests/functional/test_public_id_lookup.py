"""Public ids read over the phone: staff type what they hear, however they hear it, and find
the request; ids issued before the grouped shape still resolve, exactly as stored."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.support.backoffice_write import reauth
from tests.support.capture import capture_request_row, create_direct
from tests.support.web import login

pytestmark = pytest.mark.usefixtures("app")


def sloppy(public_id: str) -> str:
    """How a person types ``K7F-3QX-2M9`` heard over the phone: lower case, spaces, no
    hyphens, and the look-alikes (0 typed as o, 1 as l) Crockford's reading forgives."""
    return " ".join(public_id.split("-")).lower().replace("0", "o").replace("1", "l")


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


@pytest.fixture
def officer(app, make_staff):
    client = app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    return client


def test_new_requests_get_a_grouped_crockford_id(app, agent):
    public_id, _ = create_direct(app, agent.id)
    assert len(public_id) == 11 and public_id.count("-") == 2
    assert not set(public_id) & set("ILOUilou_")


def test_the_back_office_finds_a_request_however_its_id_is_typed(app, agent, officer):
    public_id, _ = create_direct(app, agent.id, reference="ACC-4410")
    typed = sloppy(public_id)

    detail = officer.get(f"/backoffice/transactions/{typed}")
    refund = officer.get(f"/backoffice/refunds/new/{typed.replace(' ', '')}")
    data = officer.get(f"/backoffice/data-requests/{typed.replace(' ', '-')}")
    found = officer.get("/backoffice/data-requests", query_string={"q": typed})

    assert detail.status_code == 200 and public_id in detail.text
    assert refund.status_code == 200 and public_id in refund.text
    assert data.status_code == 200 and public_id in data.text
    assert "Requests found (1)" in found.text and public_id in found.text


def test_the_agent_console_finds_its_request_however_its_id_is_typed(app, agent):
    public_id, _ = create_direct(app, agent.id)
    client = app.test_client()
    login(client, agent)

    status = client.get(f"/agent/api/requests/{sloppy(public_id).replace(' ', '')}/status")

    assert status.status_code == 200 and status.get_json()["id"] == public_id


def test_ids_issued_before_resolve_exactly_and_only_exactly(app, agent, officer):
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    old, other_case = "3l_lzxTZBH", "3L_LZXTZBH"
    with app.app_context():
        db.session.add(capture_request_row(agent.id, public_id=old, reference="OLD-1"))
        db.session.commit()

    assert officer.get(f"/backoffice/transactions/{old}").status_code == 200
    # Old ids are case-sensitive: folding case would find a different request, or none.
    assert officer.get(f"/backoffice/transactions/{other_case}").status_code == 404
    assert old in officer.get("/backoffice/data-requests", query_string={"q": old}).text
    with app.app_context():
        db.session.execute(update(CaptureRequest).values(reference="none"))
        db.session.commit()
    assert (
        "Requests found (0)"
        in officer.get("/backoffice/data-requests", query_string={"q": other_case}).text
    )


def test_an_exact_old_id_wins_over_a_new_one_it_also_reads_as(app, agent, officer):
    """Proves: the one typed value that could mean two stored ids ("abc-defghj" is an old id,
    and reads as ABC-DEF-GHJ) finds the exact old one, not an error page."""
    from portal.extensions import db

    with app.app_context():
        db.session.add(capture_request_row(agent.id, public_id="ABC-DEF-GHJ", reference="NEW"))
        db.session.add(capture_request_row(agent.id, public_id="abc-defghj", reference="OLD"))
        db.session.commit()

    assert "OLD" in officer.get("/backoffice/transactions/abc-defghj").text
    assert "NEW" in officer.get("/backoffice/transactions/abc defghj").text


def test_rubbish_in_the_address_is_not_found(officer):
    for typed in ("K7F-3QX-2M", "K7F-3QX-2MU", "%20", "x" * 200):
        assert officer.get(f"/backoffice/transactions/{typed}").status_code == 404


def test_a_public_id_already_taken_is_drawn_again(app, agent, monkeypatch):
    """Proves: a clash of 45-bit ids (rare, but the unique constraint would refuse it) costs
    the agent nothing: the service draws another id. Randomness is the edge of the world here:
    ``secrets.choice`` is made to repeat the taken id once."""
    import secrets
    from types import SimpleNamespace

    from portal.capture import public_ids

    first, _ = create_direct(app, agent.id)
    taken = iter(first.replace("-", ""))

    def repeat_then_random(alphabet):
        return next(taken, None) or secrets.choice(alphabet)

    monkeypatch.setattr(public_ids, "secrets", SimpleNamespace(choice=repeat_then_random))
    second, _ = create_direct(app, agent.id, reference="ACC-2")

    assert next(taken, None) is None  # the first draw repeated the taken id in full
    assert second != first and len(second) == 11


def test_the_transactions_search_finds_a_request_by_its_id_as_heard(app, agent, officer):
    public_id, _ = create_direct(app, agent.id, reference="ACC-5150")
    create_direct(app, agent.id, reference="ACC-5151")

    found = officer.get("/backoffice/transactions", query_string={"reference": sloppy(public_id)})

    assert found.status_code == 200
    assert public_id in found.text and "ACC-5150" in found.text and "ACC-5151" not in found.text
    by_reference = officer.get("/backoffice/transactions", query_string={"reference": "acc-5151"})
    assert "ACC-5151" in by_reference.text and "ACC-5150" not in by_reference.text
