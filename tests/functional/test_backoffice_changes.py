"""The routine every back-office "change one thing" POST shares (``make_change``): a refused
change keeps nothing it had written, a change that succeeds is committed, the clerk is told
which, and a POST without its action form's token changes nothing.

Driven through a route of the test's own app so that the change can write and then refuse,
which no real change does today but any may tomorrow."""

from __future__ import annotations

import pytest
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from portal.extensions import db
from portal.models.staff import StaffUser


@pytest.fixture
def renaming(app, make_staff):
    """A client of an app with a POST that renames a staff account, then refuses if asked."""
    # Imported once the app is built: the back office's modules load from its blueprint
    # (portal/backoffice/views.py), as in every real process.
    from portal.backoffice.changes import make_change

    user = make_staff("backoffice")

    def rename(refuse: bool):
        def change() -> str:
            db.session.get(StaffUser, user.id).display_name = "After"
            db.session.flush()  # written, as a service's half-done work would be
            if refuse:
                raise ValueError("The name cannot be changed today.")
            return "Renamed."

        return change

    app.add_url_rule("/test/token", "test_token", lambda: generate_csrf())

    def rename_view(refuse: int):
        answer = make_change("/test/token", rename(bool(refuse)), reauth=False)
        db.session.commit()  # as anything later in the request that commits would
        return answer

    app.add_url_rule("/test/rename/<int:refuse>", "test_rename", rename_view, methods=["POST"])
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

    answer = client.post("/test/rename/1", data={"csrf_token": token})

    assert answer.status_code == 303 and answer.headers["Location"] == "/test/token"
    assert name() == before
    assert flashed() == [("error", "The name cannot be changed today.")]


def test_a_change_that_succeeds_is_committed_and_said(renaming):
    client, token, name, flashed = renaming

    answer = client.post("/test/rename/0", data={"csrf_token": token})

    assert answer.status_code == 303
    assert name() == "After"
    assert flashed() == [("success", "Renamed.")]


def test_a_change_without_its_forms_token_is_refused_before_it_runs(renaming):
    client, _, name, flashed = renaming
    before = name()

    answer = client.post("/test/rename/0", data={})

    assert answer.status_code == 400
    assert name() == before
    assert flashed() == []
