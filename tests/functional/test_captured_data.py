"""Personal-data capture end to end: the notice, the form, encrypted storage, one decision per
request, revealing with a reason, the agent's masked view, erasure, and no plaintext anywhere:
not in any table, not in the database file, not in a log line."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import pytest
from flask import Blueprint, render_template_string, request
from sqlalchemy import select, text

from portal.audit import CUSTOMER
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.captured_data import CapturedValue, DataSubmission
from portal.models.types import utcnow
from portal.personal_data import service
from portal.security.actors import customer_actor
from tests.functional.captured_data_support import (
    CLERK,
    ENTERED,
    PURPOSE,
    load,
    new_request,
    store,
)
from tests.support.logs import logged_text
from tests.support.web import csrf_from, post_form

#: The forms ENTERED's values are stored or shown in (normalised), searched for in plaintext.
STORED_FORMS = [
    "ZE2 9QX",
    "ZE29QX",
    "1961-07-23",
    "23/07/1961",
    "JX482719B",
    "JX 48 27 19 B",
    "40-47-84",
    "404784",
    "FR1420041010050500013M02606",
    "+442079460958",
    "02079460958",
    "Zephyrine.Q@wexcombe-parva.co.uk",
]


#: What changes from run to run around the values searched for, blanked out before the search
#: (a six-digit sort code turns up in timestamps' microseconds about one run in a thousand).
NOISE = (
    r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?"  # timestamps, to the microsecond
    r"|datetime\.datetime\([^)]*\)"  # the same, as Python prints them
    # Hashes, keys and ids in hex: 16 or more, with a letter (an IBAN's digits are no noise).
    r"|(?=[0-9a-f]{16})[0-9a-f]*[a-f][0-9a-f]*"
)


def appears(value: str, text: str | bytes) -> bool:
    """Whether ``value`` is in ``text`` (or a file's bytes), whatever the case, once the noise
    is blanked out."""
    if isinstance(text, bytes):
        text = re.sub(NOISE.encode(), b"~", text).lower()
        return value.encode().lower() in text
    return value.lower() in re.sub(NOISE, "~", text).lower()


def every_form_of_every_value() -> list[str]:
    values = [value for entered in ENTERED.values() for value in entered.values()]
    return sorted(set(values + STORED_FORMS))


PAGE = """{% extends "base.html" %}
{% from "customer/_data_fields.html" import data_capture_form %}
{% block body_class %}customer{% endblock %}
{% block content %}<h1>{{ notice.field_set.title }}</h1>
{{ data_capture_form(form, notice, request.path) }}{% endblock %}"""


def with_data_page(app):
    """Mount a minimal customer page on ``app``, wired exactly as the real one should be."""
    pages = Blueprint("data_page_for_tests", __name__)

    @pages.route("/_test/data/<int:request_id>", methods=["GET", "POST"])
    def data_page(request_id):
        capture_request = load(request_id)
        notice = service.notice_for(capture_request)
        try:
            if request.method == "POST" and service.wants_to_decline(request.form):
                service.record_decline(
                    capture_request, notice.notice_version, actor=customer_actor()
                )
                db.session.commit()
                return "declined"
            form = service.build_form(capture_request.field_set)
            if form.validate_on_submit():
                service.store_submission(
                    capture_request,
                    form.cleaned(),
                    form.notice_version.data,
                    actor=customer_actor(),
                )
                db.session.commit()
                return "thank you"
        except service.AlreadyDecided:
            db.session.rollback()
            return "already done", 409
        status = 400 if form.errors else 200
        return render_template_string(PAGE, form=form, notice=notice), status

    app.register_blueprint(pages)
    return app


@pytest.fixture
def staff(make_staff):
    return make_staff("agent")


# --- The page ---------------------------------------------------------------------------------


def test_the_notice_comes_before_any_field(app, staff):
    with_data_page(app)
    request_id = new_request(app, staff, "address")
    html = app.test_client().get(f"/_test/data/{request_id}").get_data(as_text=True)
    notice_at, first_field_at = html.index("Before you start"), html.index('id="address_line1"')
    assert notice_at < first_field_at
    assert app.config["ORG_NAME"] in html
    assert PURPOSE in html
    assert "We need your postal address" in html
    assert "We keep these details for 30 days after your request is completed" in html
    assert f'href="{app.config["PRIVACY_NOTICE_URL"]}"' in html
    assert f"version {app.config['PRIVACY_NOTICE_VERSION']}" in html
    assert "I do not want to give these details" in html
    assert "never ask for your card number" in html
    assert "<script" not in html and "style=" not in html


def test_a_customer_submits_through_the_page(app, staff):
    with_data_page(app)
    client = app.test_client()
    request_id = new_request(app, staff, "address")
    url = f"/_test/data/{request_id}"
    response = post_form(client, url, {**ENTERED["address"], "postcode": "ZE2 9Q"})
    assert response.status_code == 400
    assert "Enter a real postcode, like SW1A 1AA" in response.get_data(as_text=True)

    response = post_form(client, url, {**ENTERED["address"], "decision": "send"})
    assert response.get_data(as_text=True) == "thank you"
    with app.app_context():
        submission = db.session.execute(select(DataSubmission)).scalar_one()
        assert submission.capture_request_id == request_id
        assert submission.privacy_notice_version == app.config["PRIVACY_NOTICE_VERSION"]
        assert submission.retention_class == "personal_data"
        assert submission.submitted_at and not submission.declined_at
        assert submission.fields_received == list(ENTERED["address"])
        values = db.session.execute(select(CapturedValue)).scalars().all()
        assert {v.field_name for v in values} == set(ENTERED["address"])
        assert len({v.nonce for v in values}) == len(values)
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "data.submitted")
        ).scalar_one()
        assert event.actor_label == "customer" and event.target_id == load(request_id).public_id
        assert event.details["fields"] == list(ENTERED["address"])
        assert set(event.details) == {"field_set", "fields", "notice_version", "key_id"}
        assert service.reveal(
            load(request_id), "Test: check storage", CLERK, reauthenticated_at=utcnow()
        )["postcode"] == ("ZE2 9QX")

    # A second go (another tab, a replay) is refused by the database.
    response = post_form(client, url, {**ENTERED["address"], "decision": "send"})
    assert response.status_code == 409


def test_a_customer_may_decline_and_then_cannot_submit(app, staff):
    with_data_page(app)
    client = app.test_client()
    request_id = new_request(app, staff, "ni_number")
    url = f"/_test/data/{request_id}"
    page = client.get(url).get_data(as_text=True)
    response = client.post(
        url,
        data={"csrf_token": csrf_from(page), "decision": "decline"},
    )
    assert response.get_data(as_text=True) == "declined"
    assert post_form(client, url, ENTERED["ni_number"]).status_code == 409
    with app.app_context():
        submission = db.session.execute(select(DataSubmission)).scalar_one()
        assert submission.declined_at and not submission.submitted_at
        assert db.session.execute(select(CapturedValue)).first() is None
        assert [s.state for s in service.masked_summary(load(request_id))] == ["declined"]
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert "data.declined" in actions


def test_declining_without_csrf_is_refused(app, staff):
    with_data_page(app)
    request_id = new_request(app, staff, "ni_number")
    response = app.test_client().post(f"/_test/data/{request_id}", data={"decision": "decline"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.execute(select(DataSubmission)).first() is None


# --- The service ------------------------------------------------------------------------------


def test_one_decision_per_request_and_the_session_survives_the_refusal(app, staff):
    request_id = new_request(app, staff, "contact")
    store(app, request_id, "contact")
    with app.app_context():
        with pytest.raises(service.AlreadyDecided):
            service.store_submission(
                load(request_id),
                {"email": "other@example.co.uk", "phone": "020 7946 0018"},
                "2026-11",
                actor=CUSTOMER,
            )
        with pytest.raises(service.AlreadyDecided):
            service.record_decline(load(request_id), "2026-11", actor=CUSTOMER)
        db.session.commit()  # the failed attempts left nothing behind to commit
        values = service.reveal(
            load(request_id),
            "Test: the first submission stands",
            CLERK,
            reauthenticated_at=utcnow(),
        )
        assert values == {"email": "Zephyrine.Q@wexcombe-parva.co.uk", "phone": "+442079460958"}


def test_two_racing_submissions_store_exactly_one(app, staff):
    """Two tabs (or a replay) submitting at the same instant: the unique constraint, not a
    read-then-write, decides; the loser gets AlreadyDecided."""
    request_id = new_request(app, staff, "email")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(address: str) -> None:
        with app.app_context():
            capture_request = load(request_id)
            barrier.wait(timeout=10)
            try:
                service.store_submission(
                    capture_request, {"email": address}, "2026-11", actor=CUSTOMER
                )
                db.session.commit()
                outcomes.append("stored")
            except service.AlreadyDecided:
                db.session.rollback()
                outcomes.append("refused")
            except Exception as problem:  # noqa: BLE001  (reported by the assertion below)
                db.session.rollback()
                outcomes.append(repr(problem))

    threads = [
        threading.Thread(target=submit, args=(address,))
        for address in ("first@example.co.uk", "second@example.co.uk")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "stored"]
    with app.app_context():
        assert len(db.session.execute(select(DataSubmission)).all()) == 1
        assert len(db.session.execute(select(CapturedValue)).all()) == 1
        submitted = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "data.submitted")
        ).all()
        assert len(submitted) == 1


def test_store_checks_values_again_and_never_echoes_them(app, staff):
    request_id = new_request(app, staff, "address")
    with app.app_context():
        capture_request = load(request_id)
        bad = {"address_line1": "5555 5555 5555 4444", "town": "Leeds", "postcode": "LS1 4AP"}
        with pytest.raises(service.DataCaptureError) as caught:
            service.store_submission(capture_request, bad, "2026-11", actor=CUSTOMER)
        assert "card number" in str(caught.value) and "5555" not in str(caught.value)
        with pytest.raises(service.DataCaptureError, match="not in field set"):
            service.store_submission(capture_request, {"shoe_size": "9"}, "2026-11", actor=CUSTOMER)
        with pytest.raises(service.DataCaptureError, match="notice version"):
            service.store_submission(capture_request, {}, "", actor=CUSTOMER)
        assert db.session.execute(select(DataSubmission)).first() is None


def test_a_request_without_a_field_set_has_no_data_to_capture(app, staff):
    request_id = new_request(app, staff, None)
    with app.app_context(), pytest.raises(service.DataCaptureError, match="no known field set"):
        service.notice_for(load(request_id))


def test_revealing_needs_a_reason_and_is_audited(app, staff):
    request_id = new_request(app, staff, "bank_details_dd")
    store(app, request_id, "bank_details_dd")
    with app.app_context():
        for reason in ("", "   ", None, "x" * 201, "card 4242 4242 4242 4242"):
            with pytest.raises(service.ReasonRequired):
                service.reveal(load(request_id), reason, CLERK, reauthenticated_at=utcnow())
        values = service.reveal(
            load(request_id),
            "Setting up DD mandate, ticket 881",
            CLERK,
            reauthenticated_at=utcnow(),
        )
        db.session.commit()
        assert values == {
            "account_holder_name": "Ottoline Brackenridge",
            "sort_code": "40-47-84",
            "account_number": "73915026",
        }
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "data.revealed")
        ).scalar_one()
        assert event.actor_label == "backoffice1"
        assert event.details == {
            "reason": "Setting up DD mandate, ticket 881",
            "fields": ["account_holder_name", "sort_code", "account_number"],
        }


def test_the_agent_sees_only_whether_each_field_arrived(app, staff):
    request_id = new_request(app, staff, "address")
    with app.app_context():
        assert {s.state for s in service.masked_summary(load(request_id))} == {"awaiting"}
    store(app, request_id, "address")
    with app.app_context():
        summary = service.masked_summary(load(request_id))
    assert [(s.label, s.text) for s in summary] == [
        ("Address line 1", "Received"),
        ("Address line 2", "Received"),
        ("Town or city", "Received"),
        ("County", "Received"),
        ("Postcode", "Received"),
    ]
    optional_missing = new_request(app, staff, "address")
    with app.app_context():
        service.store_submission(
            load(optional_missing),
            {"address_line1": "1 High Street", "town": "Leeds", "postcode": "LS1 4AP"},
            "2026-11",
            actor=CUSTOMER,
        )
        states = {s.name: s.state for s in service.masked_summary(load(optional_missing))}
    assert states["county"] == "not_given" and states["postcode"] == "received"
    for value in ENTERED["address"].values():
        assert value not in repr(summary)


def test_erasure_deletes_values_and_keeps_the_record(app, staff):
    request_id = new_request(app, staff, "iban")
    store(app, request_id, "iban")
    with app.app_context():
        with pytest.raises(service.ReasonRequired):
            service.erase(load(request_id), " ", CLERK)
        assert service.erase(load(request_id), "retention: 30 days after completion", CLERK) == 2
        db.session.commit()
        assert db.session.execute(select(CapturedValue)).first() is None
        submission = db.session.execute(select(DataSubmission)).scalar_one()
        assert submission.erased_at is not None
        assert submission.fields_received == ["account_holder_name", "iban"]
        assert {s.state for s in service.masked_summary(load(request_id))} == {"erased"}
        assert (
            service.reveal(
                load(request_id), "Audit check after erasure", CLERK, reauthenticated_at=utcnow()
            )
            == {}
        )
        # Again: nothing left to do, nothing more audited.
        assert service.erase(load(request_id), "subject access request", CLERK) == 0
        db.session.commit()
        erased = (
            db.session.execute(select(AuditEvent).where(AuditEvent.action == "data.erased"))
            .scalars()
            .all()
        )
        assert len(erased) == 1
        assert erased[0].details == {
            "reason": "retention: 30 days after completion",
            "values_deleted": 2,
            "data_key": "journaled",
        }


# --- No plaintext anywhere --------------------------------------------------------------------


def dump_database(app) -> tuple[str, bytes]:
    """Everything the database holds: every row of every table as text, plus (SQLite) the raw
    bytes of the database file and its journals and every binary cell."""
    with app.app_context():
        engine = db.engine
        rows_text, raw = [], b""
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                tables = conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                    )
                ).scalars()
                for table in list(tables):
                    query = f'SELECT t::text FROM "{table}" t'  # noqa: S608  (catalog names)
                    rows_text += conn.execute(text(query)).scalars().all()
            else:
                tables = conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'table'")
                ).scalars()
                for table in list(tables):
                    for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                        for cell in row:
                            if isinstance(cell, bytes):
                                raw += cell
                            rows_text.append(repr(cell))
                database = Path(engine.url.database)
                for path in (database, *database.parent.glob(database.name + "-*")):
                    raw += path.read_bytes()
        return "\n".join(rows_text), raw


def test_no_entered_value_is_stored_in_clear_anywhere_in_the_database(app, staff):
    request_ids = {name: new_request(app, staff, name) for name in ENTERED}
    for name, request_id in request_ids.items():
        store(app, request_id, name)
    with app.app_context():
        revealed = service.reveal(
            load(request_ids["address"]), "Test: values exist", CLERK, reauthenticated_at=utcnow()
        )
    assert revealed["town"] == "Wexcombe Parva"

    dumped, raw = dump_database(app)
    # The dump does see what is stored in clear: the agent's purpose, the field names.
    assert PURPOSE in dumped and "account_holder_name" in dumped
    if raw:
        assert PURPOSE.encode() in raw
    for value in every_form_of_every_value():
        assert not appears(value, dumped), value
        assert not appears(value, raw), value


def test_nothing_personal_is_logged_during_a_submission(app, staff, caplog, capfd):
    with_data_page(app)
    client = app.test_client()
    request_id = new_request(app, staff, "address")
    url = f"/_test/data/{request_id}"
    watched = [logging.getLogger(n) for n in ("portal", "postern", "werkzeug", "sqlalchemy")]
    saved = [(logger, logger.level) for logger in watched]
    for logger in watched:
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.DEBUG)
    # SQL statements with their bound parameters: proof that no plaintext reaches the driver.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    caplog.set_level(logging.DEBUG)
    try:
        bad = post_form(client, url, {**ENTERED["address"], "postcode": "ZE2 9QXX"})
        assert bad.status_code == 400
        good = post_form(client, url, {**ENTERED["address"], "decision": "send"})
        assert good.get_data(as_text=True) == "thank you"
        with app.app_context():
            service.masked_summary(load(request_id))
    finally:
        for logger, level in saved:
            logger.removeHandler(caplog.handler)
            logger.setLevel(level)
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    logged = caplog.text + logged_text(caplog.records)
    captured = capfd.readouterr()
    logged += captured.out + captured.err
    # The logs were really captured: our own line, and the SQL that stored the ciphertext.
    assert "personal data stored" in logged
    assert "INSERT INTO captured_values" in logged
    for value in [*every_form_of_every_value(), "ZE2 9QXX"]:
        assert not appears(value, logged), value
