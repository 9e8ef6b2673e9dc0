"""GET /metrics: hidden without a token, closed without the bearer, no cookie, no cache; the
gauges read from the database (queues, heartbeats, audit chain) and a scrape that survives a
database that does not answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from portal.extensions import db
from portal.models.delivery import DeliveryMessage
from portal.models.payment import ProcessedWebhookEvent
from portal.models.types import utcnow
from portal.observability.heartbeats import record_heartbeat
from tests.support.capture import create_direct
from tests.support.metrics import METRICS_TOKEN, bearer, samples, scrape_text, value
from tests.support.web import login


@pytest.fixture
def metrics_app(app_factory):
    return app_factory(METRICS_TOKEN=METRICS_TOKEN)


def test_without_a_token_configured_there_is_no_such_page(app):
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=bearer()).status_code == 404
    assert client.get("/metrics", headers=bearer("")).status_code == 404


def test_the_token_is_required_and_compared_exactly(metrics_app):
    client = metrics_app.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "postern_" not in refused.get_data(as_text=True)
    for wrong in (
        {"Authorization": METRICS_TOKEN},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        bearer(METRICS_TOKEN + "x"),
        bearer(METRICS_TOKEN.upper()),
    ):
        assert client.get("/metrics", headers=wrong).status_code == 401, wrong
    answer = client.get("/metrics", headers=bearer())
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=")
    assert answer.headers["Cache-Control"] == "no-store"
    assert (
        client.get("/metrics", headers={"Authorization": f"bearer {METRICS_TOKEN}"}).status_code
        == 200
    )


def test_only_get_is_answered(metrics_app):
    client = metrics_app.test_client()
    assert client.post("/metrics", headers=bearer()).status_code == 405


def test_no_cookie_is_set_and_no_staff_session_is_read(metrics_app, make_staff):
    client = metrics_app.test_client()
    login(client, make_staff("agent"))
    for headers in ({}, bearer()):
        answer = client.get("/metrics", headers=headers)
        assert "Set-Cookie" not in answer.headers, answer.status_code
    # A staff session is no way in.
    assert client.get("/metrics").status_code == 401


def test_an_allow_list_hides_the_page_from_other_networks(app_factory):
    app = app_factory(METRICS_TOKEN=METRICS_TOKEN, METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"])
    client = app.test_client()
    outside = client.get("/metrics", headers=bearer())
    inside = client.get("/metrics", headers=bearer(), environ_base={"REMOTE_ADDR": "10.2.3.4"})
    assert (outside.status_code, inside.status_code) == (404, 200)


def test_a_malformed_allow_list_stops_the_app_from_starting(app_factory):
    with pytest.raises(ValueError):
        app_factory(METRICS_TOKEN=METRICS_TOKEN, METRICS_ALLOWED_NETWORKS=["not a network"])


def test_guessing_the_token_is_rate_limited_but_scraping_is_not(metrics_app):
    client = metrics_app.test_client()
    for _ in range(25):  # a scrape every 15 s is 4 a minute; these are all allowed
        assert client.get("/metrics", headers=bearer()).status_code == 200
    answers = [client.get("/metrics", headers=bearer("guess")).status_code for _ in range(21)]
    assert answers[:20] == [401] * 20 and answers[20] == 429


def test_queue_gauges_come_from_the_database(metrics_app, make_staff):
    agent = make_staff("agent")
    create_direct(metrics_app, agent.id, channel="sms", destination="+447700900461")
    now = utcnow()
    with metrics_app.app_context():
        db.session.execute(
            DeliveryMessage.__table__.update().values(created_at=now - timedelta(seconds=120))
        )
        rows = [
            ("evt_q1", "queued", now - timedelta(seconds=300)),
            ("evt_q2", "queued", now - timedelta(seconds=10)),
            ("evt_f1", "failed", now - timedelta(days=2)),
            ("evt_a1", "applied", now - timedelta(days=3)),
        ]
        for event_id, outcome, received_at in rows:
            db.session.execute(
                insert(ProcessedWebhookEvent).values(
                    stripe_event_id=event_id,
                    event_type="payment_intent.succeeded",
                    outcome=outcome,
                    received_at=received_at,
                    attempts=0,
                    next_attempt_at=received_at if outcome == "queued" else None,
                )
            )
        db.session.commit()
    found = samples(scrape_text(metrics_app.test_client()))
    assert value(found, "postern_metrics_database_ok") == 1
    assert value(found, "postern_queue_depth", queue="outbox") == 1
    assert 120 <= value(found, "postern_queue_oldest_age_seconds", queue="outbox") < 180
    assert value(found, "postern_queue_failed", queue="outbox") == 0
    assert value(found, "postern_queue_depth", queue="webhook_inbox") == 2
    assert 300 <= value(found, "postern_queue_oldest_age_seconds", queue="webhook_inbox") < 360
    assert value(found, "postern_queue_failed", queue="webhook_inbox") == 1


def test_heartbeats_and_the_audit_chain_are_exposed(metrics_app, make_staff):
    with metrics_app.app_context():
        record_heartbeat("outbox", "host:1:1:aa", 30)
        record_heartbeat("webhooks", "host:1:2:bb", 5)
    create_direct(metrics_app, make_staff("agent").id)  # audit rows to verify
    client = metrics_app.test_client()
    found = samples(scrape_text(client))
    beat = value(found, "postern_worker_last_heartbeat_timestamp_seconds", worker="outbox")
    assert abs(beat - utcnow().timestamp()) < 60
    assert value(found, "postern_worker_heartbeat_interval_seconds", worker="webhooks") == 5
    assert value(found, "postern_audit_chain_verified") == 1
    assert not [s for s in found if s.name == "postern_audit_chain_last_anchor_age_seconds"]

    done = metrics_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert done.exit_code == 0, done.output
    found = samples(scrape_text(client))
    assert 0 <= value(found, "postern_audit_chain_last_anchor_age_seconds") < 60


def test_a_broken_audit_chain_reads_zero(metrics_app, make_staff):
    create_direct(metrics_app, make_staff("agent").id)
    # Someone with database access edits a row (on PostgreSQL, past the append-only trigger
    # as only maintenance may).
    with metrics_app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
        connection.execute(text("UPDATE audit_events SET action = 'capture.other' WHERE seq = 1"))
    found = samples(scrape_text(metrics_app.test_client()))
    assert value(found, "postern_audit_chain_verified") == 0


def test_a_database_that_does_not_answer_still_gives_a_scrape(tmp_path):
    from portal import create_app

    gone = f"sqlite:///{tmp_path / 'no-such-dir' / 'gone.sqlite3'}"
    app = create_app("testing", {"METRICS_TOKEN": METRICS_TOKEN, "SQLALCHEMY_DATABASE_URI": gone})
    text = scrape_text(app.test_client())
    found = samples(text)
    assert value(found, "postern_metrics_database_ok") == 0
    assert "postern_capture_funnel_total" in text
    assert "postern_queue_depth" not in text


def test_each_instance_can_be_scraped_at_its_own_address(app_factory):
    app = app_factory(METRICS_TOKEN=METRICS_TOKEN, TRUSTED_HOSTS=["pay.example.co.uk"])
    client = app.test_client()
    direct = client.get("/metrics", headers={**bearer(), "Host": "10.0.4.7:8000"})
    assert direct.status_code == 200
    # Every other page still refuses a Host it does not trust.
    assert client.get("/login", headers={"Host": "10.0.4.7:8000"}).status_code == 400
