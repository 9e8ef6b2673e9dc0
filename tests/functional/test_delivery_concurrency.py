"""Several workers at once never send the same message twice.

Each worker is a thread with its own application context (so its own database session and
connection), all released together by a barrier, sending through the real Twilio SDK to the
local stand-in so that sends take real time and claims overlap. On PostgreSQL the claims use
``FOR UPDATE SKIP LOCKED``; on SQLite the conditional UPDATE alone keeps them apart.
"""

import threading
from collections import Counter

from sqlalchemy import func, select

from portal.audit import SYSTEM
from portal.delivery import outbox, worker
from portal.extensions import db
from portal.models.delivery import DeliveryAttempt, DeliveryMessage
from tests.support.capture import make_capture_request
from tests.support.delivery import FakeTwilio

MESSAGES = 24
WORKERS = 4


def test_concurrent_workers_send_each_message_exactly_once(app_factory, make_staff):
    with FakeTwilio() as twilio:
        app = app_factory(**twilio.config())
        agent = make_staff("agent")
        urls = []
        with app.app_context():
            for _ in range(MESSAGES):
                request, url = make_capture_request(agent.id)
                outbox.queue_link_message(request, url, "sms", "07911 123456", SYSTEM)
                urls.append(url)
            db.session.commit()

        barrier = threading.Barrier(WORKERS)
        results, failures = {}, []

        def work(name):
            try:
                with app.app_context():
                    barrier.wait(timeout=10)
                    sent = 0
                    while True:
                        counts = worker.run_once(batch=3, worker_id=name)
                        sent += counts.sent
                        if not counts.claimed:
                            break
                    results[name] = sent
                    db.session.remove()
            except Exception as problem:  # noqa: BLE001  (reported by the assertion below)
                failures.append(f"{name}: {problem!r}")

        threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not failures, failures
        assert not any(thread.is_alive() for thread in threads)

    print(f"\nsent per worker: {results}")
    assert sum(results.values()) == MESSAGES
    bodies = Counter(form["Body"] for form in twilio.received)
    assert len(twilio.received) == MESSAGES
    assert all(count == 1 for count in bodies.values())
    assert all(any(url in body for body in bodies) for url in urls)
    with app.app_context():
        statuses = db.session.execute(
            select(DeliveryMessage.status, func.count()).group_by(DeliveryMessage.status)
        ).all()
        assert statuses == [("sent", MESSAGES)]
        per_message = db.session.execute(
            select(DeliveryAttempt.message_id, func.count()).group_by(DeliveryAttempt.message_id)
        ).all()
        assert len(per_message) == MESSAGES and {count for _id, count in per_message} == {1}
        if db.engine.dialect.name == "postgresql":
            # The work really was shared out, not done by one thread while the rest waited.
            assert sum(1 for sent in results.values() if sent) >= 2
