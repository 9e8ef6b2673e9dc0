"""portal.payments.webhook_ledger.claim: each Stripe event id is claimed once, even when a
duplicate delivery races the first one on another connection."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from portal.payments.facts import WebhookEvent

EVENT = WebhookEvent(
    id="evt_ledger_race", type="payment_intent.succeeded", object_type=None,
    object_id=None, payment_intent_id=None,
)  # fmt: skip


def claim_in_thread(app) -> tuple[threading.Thread, dict]:
    """Claim EVENT on a connection of its own, committing if it gets the claim."""
    from portal.extensions import db
    from portal.payments import webhook_ledger

    result: dict = {}

    def run() -> None:
        with app.app_context():
            result["claimed"] = webhook_ledger.claim(EVENT, "applied")
            if result["claimed"]:
                db.session.commit()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def wait_until_blocked(app, thread: threading.Thread) -> None:
    """On PostgreSQL, wait (bounded) until the racing claim is inside its INSERT, waiting for
    the first claim's transaction: the race is then certain, not a matter of timing. SQLite
    has no such view; there the racing claim simply runs before or after the first ends."""
    from portal.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return
        for _ in range(500):
            waiting = db.session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'INSERT INTO processed_webhook_events%'"
                )
            ).scalar_one()
            db.session.rollback()
            if waiting:
                return
            thread.join(timeout=0.01)
        pytest.fail("the racing claim never waited for the first one")


@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_a_duplicate_racing_the_first_claim_waits_for_its_outcome(app, first_ends):
    """Proves: while a first claim of an event id is not yet committed, a second claim of the
    same id waits for it; it is told "already claimed" if the first commits, and gets the
    claim itself if the first rolls back (its handling failed: Stripe's retry is handled
    afresh). Either way exactly one ledger row remains."""
    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent
    from portal.payments import webhook_ledger

    with app.app_context():
        assert webhook_ledger.claim(EVENT, "applied") is True
        racer, result = claim_in_thread(app)
        wait_until_blocked(app, racer)
        if first_ends == "commit":
            db.session.commit()
        else:
            db.session.rollback()
        racer.join(timeout=10)

        assert not racer.is_alive()
        assert result["claimed"] is (first_ends == "rollback")
        rows = db.session.execute(
            select(func.count()).select_from(ProcessedWebhookEvent)
        ).scalar_one()
        assert rows == 1


def test_a_claim_of_an_id_already_recorded_is_refused_and_ends_the_transaction(app):
    """Proves: a duplicate claim returns False and rolls back, so nothing the caller did in
    that transaction before asking can be committed by mistake afterwards."""
    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent
    from portal.payments import webhook_ledger

    with app.app_context():
        assert webhook_ledger.claim(EVENT, "applied") is True
        db.session.commit()

        assert webhook_ledger.claim(EVENT, "ignored") is False
        assert not db.session().in_transaction()
        outcomes = db.session.execute(select(ProcessedWebhookEvent.outcome)).scalars().all()
        assert outcomes == ["applied"]
