"""Migration 0014 on a database with messages in it: the bodies (which carried the customer
link) are gone, a message still waiting keeps its link sealed and is still sent with a working
link, and one whose body held no link is cancelled with a reason.

Runs on a database of its own, migrated to 0013 first: a fresh SQLite file, and on PostgreSQL
(``TEST_DATABASE_URL``) a schema of its own in the test database.
"""

from __future__ import annotations

import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tests.support.database import database_of_its_own, dispose_engines

_INSERT = text(
    "INSERT INTO delivery_messages (capture_request_id, channel, backend, destination,"
    " destination_masked, subject, text_body, html_body, status, attempts, next_attempt_at,"
    " created_at, updated_at) VALUES (:request_id, 'sms', 'dev', '+447911123456',"
    " '+44 7*** *** 456', NULL, :body, NULL, :status, 0, :now, :now, :now)"
)


def _request_at_0013(db, now) -> tuple[int, str]:
    """An agent and a sent payment request, inserted as revision 0013's schema holds them;
    returns the request's id and its customer link."""
    from datetime import timedelta

    from portal.capture import links

    db.session.execute(
        text(
            "INSERT INTO staff_users (username, display_name, role, password_hash,"
            " password_changed_at, is_active, failed_login_count, mfa_enabled, created_at,"
            " password_must_change) VALUES ('agent1', 'Agent', 'agent', '!', :now, true, 0,"
            " false, :now, false)"
        ),
        {"now": now},
    )
    public_id, nonce = links.new_public_id(), links.new_nonce()
    request_id = db.session.execute(
        text(
            "INSERT INTO capture_requests (public_id, kind, status, created_by_id,"
            " identity_failures, readback_code, link_nonce_hash, link_issued_at, expires_at,"
            " extension_count, resend_count, created_at, updated_at, amount_minor, currency)"
            " SELECT :public_id, 'payment', 'sent', id, 0, '123456', :nonce_hash, :now,"
            " :expires, 0, 0, :now, :now, 1250, 'GBP' FROM staff_users WHERE username = 'agent1'"
            " RETURNING id"
        ),
        {
            "public_id": public_id,
            "nonce_hash": links.hash_secret(nonce),
            "now": now,
            "expires": now + timedelta(minutes=30),
        },
    ).scalar_one()
    db.session.commit()
    return request_id, links.link_url(links.make_token(public_id, nonce))


@pytest.fixture
def own_database(tmp_path, database_url):
    with database_of_its_own(database_url, tmp_path, "m0014") as url:
        yield url


def test_existing_messages_lose_their_bodies_and_waiting_ones_still_send(own_database):
    from portal import create_app
    from portal.delivery import worker
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.delivery import DeliveryMessage
    from portal.models.types import utcnow

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": own_database})
    with app.app_context():
        upgrade(revision="0013")
        # Rows as that schema held them, written in SQL: today's models and services expect
        # columns and tables later migrations add (the audit trail's, the request's language).
        request_id, url = _request_at_0013(db, utcnow())
        now = utcnow()
        body = f"Acme: here is the secure link from your call with us:\n{url}\nExpires soon."
        for status, text_body in [
            ("sent", body),
            ("failed", body),
            ("queued", body),
            ("queued", "a body that lost its link"),
        ]:
            db.session.execute(
                _INSERT,
                {"request_id": request_id, "body": text_body, "status": status, "now": now},
            )
        db.session.commit()

        upgrade(revision="0014")

        columns = {c["name"] for c in inspect(db.engine).get_columns("delivery_messages")}
        assert "sealed_link" in columns
        assert not columns & {"subject", "text_body", "html_body"}
        rows = db.session.execute(
            text("SELECT status, sealed_link, last_error_code FROM delivery_messages ORDER BY id")
        ).all()
        assert [(r.status, r.sealed_link is not None, r.last_error_code) for r in rows] == [
            ("sent", False, None),
            ("failed", False, None),
            ("queued", True, None),
            ("cancelled", False, "no_link"),
        ]
        token = url.rsplit("/c/", 1)[1]
        dumped = json.dumps(
            [list(r) for r in db.session.execute(text("SELECT * FROM delivery_messages"))],
            default=repr,
        )
        assert token not in dumped and token[-27:] not in dumped

        # The code below (models, worker) expects today's schema: migrate on (ending this
        # session's read first, or PostgreSQL's ALTER TABLE waits on it for ever).
        db.session.commit()
        upgrade(revision="heads")
        request = db.session.get(CaptureRequest, request_id)
        waiting = db.session.query(DeliveryMessage).filter_by(status="queued").one()
        from portal.delivery.outbox import render

        assert render(waiting, request).link_url == url, "sealed as the app opens it"
        assert worker.run_once().sent == 1
        path = url.removeprefix(app.config["PUBLIC_BASE_URL"].rstrip("/"))
        assert app.test_client().get(path).status_code == 200
        db.session.remove()

        # And back: the columns return empty, and nothing waits for bodies that are gone.
        downgrade(revision="0013")
        statuses = db.session.execute(text("SELECT status FROM delivery_messages")).scalars()
        assert "queued" not in set(statuses)
        db.session.remove()
        dispose_engines(db)
