"""The routine every back-office "change one thing" POST shares (``make_change``): a refused
change keeps nothing it had written, a change that succeeds is committed, the clerk is told
which, an error that is not a refusal stays a server error, and a POST without its action
form's token changes nothing.

Driven through routes of the test's own app so that a change can write and then refuse, which
no real change does today but any may tomorrow. Each route does the opposite of what
``make_change`` must have done after it returns (commits after a refusal, rolls back after a
success), so that only ``make_change`` can make the test pass; and it is exempt from the app's
CSRF protection, so that the action form's own check is the one tested."""

from __future__ import annotations

import pytest
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from portal.extensions import csrf, db
from portal.models.staff import StaffUser


@pytest.fixture
def renaming(app, make_staff):
    """(client, token, name, flashed) for an app with POST /test/rename/<how>, which renames a
    staff account and then succeeds ("ok"), refuses ("refuse") or fails ("fail": a ValueError
    that this route does not count as a refusal)."""
    # Imported once the app is built: the back office's modules load from its blueprint
    # (portal/backoffice/views.py), as in every real process.
    from portal.backoffice.changes import make_change

    user = make_staff("backoffice")

    def rename(how: str):
        def change() -> str:
            db.session.get(StaffUser, user.id).display_name = "After"
            db.session.flush()  # written, as a service's half-done work would be
            if how != "ok":
                raise ValueError("The name cannot be changed today.")
            return "Renamed."

        return change

    def rename_view(how: str):
        refusals = (LookupError,) if how == "fail" else (ValueError,)
        answer = make_change("/test/token", rename(how), reauth=False, refusals=refusals)
        if how == "ok":
            db.session.rollback()  # kept only if make_change committed it
        else:
            db.session.commit()  # as anything later in the request that commits would
        return answer

    app.add_url_rule("/test/token", "test_token", lambda: generate_csrf())
    app.add_url_rule("/test/rename/<how>", "test_rename", rename_view, methods=["POST"])
    csrf.exempt(rename_view)
    client = app.test_client()
    token = client.get("/test/token").get_data(as_text=True)

    def name() -> str:
        with app.app_context():
            return db.session.scalar(select(StaffUser.display_name).where(StaffUser.id == user.id))

    def flashed() -> list:
        with client.session_transaction() as session:
            return list(session.pop("_flashes", []))

    assert name() != "After"
    return client, token, name, flashed


def test_a_refused_change_keeps_nothing_it_wrote_and_says_why(renaming):
    client, token, name, flashed = renaming
    before = name()

    answer = client.post("/test/rename/refuse", data={"csrf_token": token})

    assert answer.status_code == 303 and answer.headers["Location"] == "/test/token"
    assert name() == before
    assert flashed() == [("error", "The name cannot be changed today.")]


def test_a_change_that_succeeds_is_committed_and_said(renaming):
    client, token, name, flashed = renaming

    answer = client.post("/test/rename/ok", data={"csrf_token": token})

    assert answer.status_code == 303
    assert name() == "After"
    assert flashed() == [("success", "Renamed.")]


def test_an_error_that_is_not_a_refusal_is_a_server_error_and_keeps_nothing(renaming):
    client, token, name, flashed = renaming
    before = name()

    answer = client.post("/test/rename/fail", data={"csrf_token": token})

    assert answer.status_code == 500
    assert name() == before
    assert flashed() == []


def test_a_change_without_its_forms_token_is_refused_before_it_runs(renaming):
    client, _, name, flashed = renaming
    before = name()

    answer = client.post("/test/rename/ok", data={})

    assert answer.status_code == 400
    assert name() == before
    assert flashed() == []
