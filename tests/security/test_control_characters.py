"""Control and bidirectional formatting characters typed by agents and staff are taken out at
input (``portal.security.input``), so they are never stored nor exported: a right-to-left
override would make a reference read as something else, an ESC could drive the terminal that
prints an export."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from tests.support.capture import create_via_console
from tests.support.web import signed_in

TYPED = "ACC\t42\x07\x1b[2J\u202e1234\u202c\u2066x\u2069\u200f"
STORED = "ACC 42[2J1234x"


def test_the_agent_console_stores_text_without_controls_and_the_export_has_none(app, make_staff):
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    agent, _ = signed_in(app, make_staff, "agent")
    response, link = create_via_console(
        agent, reference=TYPED, purpose="Gas\u202e bill\tfor March", interaction_id="\x1bcall-9"
    )
    assert link, response.get_data(as_text=True)[:500]
    with app.app_context():
        row = db.session.execute(select(CaptureRequest)).scalar_one()
        assert (row.reference, row.purpose, row.interaction_id) == (
            STORED,
            "Gas bill for March",
            "call-9",
        )

    auditor, _ = signed_in(app, make_staff, "auditor")
    exported = auditor.get("/backoffice/transactions/export.csv")
    assert exported.status_code == 200
    text = exported.get_data().decode("utf-8-sig")
    assert not any(ch in text for ch in "\t\x07\x1b\u202e\u202c\u2066\u2069\u200f")
    (line,) = csv.DictReader(io.StringIO(text))
    assert line["reference"] == STORED


def test_passwords_are_posted_exactly_as_typed():
    """Secrets are compared, never stored as typed: tidying them would lock a person out, so
    password fields are left alone: they sign in, or are refused, exactly as before."""
    from werkzeug.datastructures import MultiDict

    from portal.security.input import _tidied_form

    form = MultiDict({"password": "a\tb\u202e", "new_password": "c\x07", "note": "d\te"})
    tidied = _tidied_form(form)
    assert tidied["password"] == "a\tb\u202e" and tidied["new_password"] == "c\x07"
    assert tidied["note"] == "d e"
