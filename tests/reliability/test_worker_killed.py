"""SIGKILL, on the production-like stack (nginx, gunicorn with production settings, PostgreSQL,
Redis, both workers): of a gunicorn worker in the middle of creating requests, of the webhook
worker in the middle of a batch of Stripe events, and of the outbox worker at the moment the mail
server has accepted a message. Nothing is left half-written, every event is applied once and
every link is delivered; the only repeat is the documented one (an email accepted by the
provider but not yet recorded when its worker died), and it keeps its Message-ID.

The module shares one stack (tests/reliability/conftest.py ``fault_stack``): its rate limits
are lifted, since every simulated browser shares 127.0.0.1; nothing else differs from
production. Each test counts only what it made itself.

A worker killed mid-batch leaves its leases behind: the rows it held wait until the lease runs
out (WEBHOOK_LEASE_SECONDS, 60 s; DELIVERY_LEASE_SECONDS, 120 s) before any worker takes them
again. Rather than wait that long, the tests first check the restarted worker leaves them alone,
then move those leases back by one lease length (``lapse_leases``): what the time passing would
do, and all it would do.
"""

from __future__ import annotations

import secrets
import signal
import threading
from collections import Counter

import psycopg
import pytest
import requests
from sqlalchemy import select

from portal.audit.pending import HOLD_EVERY_LANE
from tests.reliability.stack_payments import (
    events_about,
    inbox_rows,
    seed_payment_requests,
    stripe_api,
)
from tests.reliability.stack_support import (
    AUDITED,
    add_agent,
    audit_counts,
    audit_verify,
    count_mail,
    database,
    kill,
    lapse_leases,
    link_in,
    links_of_messages,
    plain_url,
    signed_in_agent,
    wait_until_sealed,
)
from tests.reliability.support import (
    assert_requests_whole,
    console_form,
    create_form,
    lock_waits_by_process,
    record_fault,
    send_signal,
)
from tests.support.loopback import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.prodlike]

#: gunicorn's workers on the stack: two of four threads (tests/prodlike/stack.py).
THREADS = 4
IN_FLIGHT = 16


def _post_create(stack, cookies: dict, csrf: str, reference: str) -> int | str:
    """One create through nginx with the agent's cookies; the status, or the error's name."""
    try:
        answer = requests.post(
            stack.url + "/agent/requests",
            data=create_form(csrf, secrets.token_urlsafe(16), reference, "email"),
            cookies=cookies,
            headers={"Referer": stack.url + "/agent/"},
            verify=str(stack.certificates.ca_file),
            allow_redirects=False,
            timeout=60,
        )
        return answer.status_code
    except requests.RequestException as problem:
        return type(problem).__name__


def test_sigkill_of_a_gunicorn_worker_mid_create_leaves_nothing_half_written(stack):
    """Proves: when a gunicorn worker dies mid-transaction (its creates' request rows inserted,
    their audit rows waiting for an audit lane), PostgreSQL rolls its work back whole:
    its browsers get nginx's 502 (never a false "created"), the other worker's creates all
    complete, every request that exists has its audit row and its outbox message, gunicorn
    replaces the worker so service goes on, and ``flask audit verify`` passes."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    tag = secrets.token_hex(3)
    prefix = f"KILL-{tag}-"
    _, browser = signed_in_agent(stack, f"killagent.{tag}")
    csrf, _ = console_form(browser, stack.url)
    cookies = browser.cookies.get_dict()
    gunicorn = stack.services["gunicorn"]
    answers: dict[str, int | str] = {}

    def create(reference: str) -> None:
        answers[reference] = _post_create(stack, cookies, csrf, reference)

    with (
        psycopg.connect(plain_url(stack.database_url), autocommit=True) as blocker,
        psycopg.connect(plain_url(stack.database_url)) as holder,
    ):
        # Every audit lane held (one transaction; ``blocker`` watches from outside it, since a
        # transaction sees one snapshot of pg_stat_activity): creates wait at their commit.
        holder.execute(HOLD_EVERY_LANE)
        threads = [
            threading.Thread(target=create, args=(f"{prefix}{n:02d}",), daemon=True)
            for n in range(IN_FLIGHT)
        ]
        for thread in threads:
            thread.start()
        workers = gunicorn.children()
        # However the kernel spread the connections, one worker has all its threads waiting.
        waits = wait_until(
            lambda: (
                counts
                if sum((counts := lock_waits_by_process(blocker, workers)).values()) >= THREADS
                else None
            ),
            60,
            "the creates to be waiting mid-transaction",
        )
        victim = max(waits, key=waits.get)
        caught = waits[victim]
        send_signal(victim, signal.SIGKILL)
        wait_until(lambda: victim not in gunicorn.children(), 10, "the worker to die")
        holder.commit()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    wait_until(lambda: len(gunicorn.children()) == len(workers), 30, "a replacement worker")
    create(f"{prefix}after")
    assert answers[f"{prefix}after"] == 302

    outcomes = Counter(map(str, answers.values()))
    dropped = [ref for ref, status in answers.items() if status != 302]
    assert dropped, f"the kill hit no request in flight: {outcomes}"
    assert set(answers.values()) <= {302, 502}, outcomes  # 502: nginx lost its upstream
    with stack.app().app_context():
        stored = Counter(
            db.session.execute(
                select(CaptureRequest.reference).where(CaptureRequest.reference.startswith(prefix))
            ).scalars()
        )
        db.session.remove()
    acknowledged = {ref for ref, status in answers.items() if status == 302}
    lost = len(acknowledged - set(stored))
    doubled = sum(count - 1 for count in stored.values())
    half_applied = len(set(stored) - acknowledged)
    assert (lost, doubled, half_applied) == (0, 0, 0), (lost, doubled, half_applied)
    assert assert_requests_whole(stack.app(), prefix) == len(acknowledged)
    audit_verify(stack)
    record_fault(
        "SIGKILL of a gunicorn worker with creates mid-transaction",
        "its in-flight creates fail (502 from nginx), none half-applied; worker replaced",
        f"{len(dropped)} of {IN_FLIGHT} creates dropped with the worker ({caught} of them "
        f"mid-transaction), {len(acknowledged) - 1} acknowledged and whole; worker replaced, "
        "the next create served",
        lost,
        doubled,
    )


PAYMENTS = 24
#: The payment whose PaymentIntent the worker is reading from Stripe when it is killed: the
#: worker leases 50 events at a time (WEBHOOK_BATCH_SIZE), three per payment, so it has applied
#: some of its batch and holds the rest.
VICTIM = 8


def test_sigkill_of_the_webhook_worker_mid_batch_applies_every_event_once(stack):
    """Proves: events Stripe delivered while the webhook worker was down wait in the inbox; the
    worker killed in the middle of a batch (asking Stripe about one PaymentIntent, events of
    earlier payments already applied) loses nothing: its restarted self handles every event
    not leased, leaves the dead worker's leases alone until they run out, then handles those
    too. Every event is applied once, every payment ends as Stripe says, no audit row is
    written twice, and ``flask audit verify`` passes."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment, PaymentAttempt

    tag = secrets.token_hex(2)
    agent_id = add_agent(stack, f"hookagent.{tag}")
    stack.services["webhooks-worker"].stop()  # Stripe's events queue up meanwhile
    session = stack.https()
    pairs = []
    for number in range(PAYMENTS):
        public_id = f"WK{tag}{number:04d}"
        intent = stripe_api(
            stack,
            "POST",
            "/v1/payment_intents",
            session,
            amount=1000 + number,
            currency="gbp",
            **{"metadata[postern_request]": public_id, "payment_method_types[]": "card"},
        )
        pairs.append((public_id, intent["id"]))
    seed_payment_requests(stack, agent_id, pairs)
    for _, intent_id in pairs:
        stripe_api(
            stack,
            "POST",
            f"/v1/payment_intents/{intent_id}/confirm",
            session,
            payment_method="pm_card_visa",
        )
    intents = {intent_id for _, intent_id in pairs}
    events = {event["id"] for event in events_about(stack, intents)}
    wait_until(
        lambda: len(inbox_rows(stack, events)) == len(events),
        60,
        "every event delivered to the stopped worker's inbox",
        every=0.2,
    )

    victim_path = f"/v1/payment_intents/{pairs[VICTIM][1]}"
    stack.sandbox.arm_fault("timeout", 1, victim_path, timeout_seconds=60)
    stack.restart("webhooks-worker")
    wait_until(
        lambda: any(call["fault"] for call in stack.sandbox.requests("GET", victim_path)),
        30,
        "the worker asking Stripe about the victim's PaymentIntent",
    )
    kill(stack, "webhooks-worker")
    stack.sandbox.clear_faults()  # the held answer goes to a dead socket

    at_kill = inbox_rows(stack, events)
    applied_before = sum(1 for outcome, _ in at_kill.values() if outcome == "applied")
    leased = {event for event, (outcome, by) in at_kill.items() if outcome == "queued" and by}
    assert applied_before and leased, (applied_before, len(leased))  # killed mid-batch
    [dead_worker] = {at_kill[event][1] for event in leased}

    stack.restart("webhooks-worker")
    wait_until(
        lambda: all(
            outcome != "queued" or event in leased
            for event, (outcome, _) in inbox_rows(stack, events).items()
        ),
        60,
        "every event the dead worker did not hold to be handled",
        every=0.2,
    )
    after_restart = inbox_rows(stack, events)
    assert {event for event, (outcome, by) in after_restart.items() if by == dead_worker} == leased
    assert lapse_leases(stack, "processed_webhook_events", dead_worker, "WEBHOOK_LEASE_SECONDS")
    wait_until(
        lambda: all(outcome != "queued" for outcome, _ in inbox_rows(stack, events).values()),
        60,
        "the dead worker's events to be handled once its leases ran out",
        every=0.2,
    )

    outcomes = Counter(outcome for outcome, _ in inbox_rows(stack, events).values())
    public_ids = {public_id for public_id, _ in pairs}
    with stack.app().app_context():
        rows = db.session.execute(
            select(CaptureRequest.status, Payment.status)
            .join(Payment, Payment.capture_request_id == CaptureRequest.id)
            .where(CaptureRequest.public_id.in_(public_ids))
        ).all()
        attempts = Counter(
            db.session.execute(
                select(PaymentAttempt.outcome)
                .join(Payment, Payment.id == PaymentAttempt.payment_id)
                .where(Payment.stripe_payment_intent_id.in_(intents))
            ).scalars()
        )
        db.session.remove()
    audited = audit_counts(stack, public_ids)
    not_applied = len(events) - outcomes["applied"]
    unpaid = sum(1 for row in rows if tuple(row) != ("succeeded", "succeeded"))
    doubled = sum(count - 1 for count in audited.values()) + max(
        0, attempts["succeeded"] - PAYMENTS
    )
    assert outcomes == Counter({"applied": len(events)}), outcomes
    assert len(rows) == PAYMENTS and unpaid == 0, rows
    assert attempts == Counter({"succeeded": PAYMENTS}), attempts
    assert {action for _, action in audited} >= {"payment.succeeded", "capture.succeeded"}
    assert doubled == 0, [key for key, count in audited.items() if count > 1]
    wait_until_sealed(stack, set(public_ids))
    audit_verify(stack)
    record_fault(
        "SIGKILL of the webhook worker mid-batch (asking Stripe), events queued",
        "restarted; every event applied once; leases of the dead worker honoured, then taken",
        f"{len(events)} events: {applied_before} applied before the kill, {len(leased)} held by "
        f"the dead worker and handled after its leases ran out; {PAYMENTS} payments succeeded",
        not_applied + unpaid,
        doubled,
    )


MESSAGES = 30
#: The message the restarted worker is sending when it is killed: the worker claims 20 at a
#: time (DELIVERY_BATCH_SIZE), so it has sent some of its batch and holds the rest.
HELD_AT = 5


def test_sigkill_of_the_outbox_worker_as_a_message_is_accepted_delivers_every_link(stack):
    """Proves: links queued while the outbox worker was down are all delivered after it is
    killed mid-batch (at the moment the mail server has accepted a message and not yet
    answered) and restarted. The dead worker's other claims are left alone until their lease
    runs out, then sent once. The one message accepted-but-unrecorded is sent again: the
    documented at-least-once case, recognisable by its unchanged Message-ID. Each message has
    one ``delivery.sent`` audit row, and ``flask audit verify`` passes."""
    tag = secrets.token_hex(3)
    prefix = f"OB-{tag}-"
    stack.services["outbox-worker"].stop()
    _, browser = signed_in_agent(stack, f"outboxagent.{tag}")
    for number in range(MESSAGES):
        csrf, key = console_form(browser, stack.url)
        answer = browser.post(
            stack.url + "/agent/requests",
            data=create_form(csrf, key, f"{prefix}{number:02d}", "email"),
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    links = links_of_messages(stack, prefix)
    assert len(links) == MESSAGES and set(links.values()) == {"queued"}, links

    first = len(stack.mailbox.messages)
    held, release = threading.Event(), threading.Event()
    seen: list[str] = []

    def hold_the_fifth(message) -> None:
        if link_in(message) not in links:
            return
        seen.append(link_in(message))
        if len(seen) == HELD_AT:
            held.set()
            release.wait(30)

    stack.mailbox.before_reply = hold_the_fifth
    try:
        stack.restart("outbox-worker")
        wait_until(held.is_set, 30, "the mail server to accept a message of the batch")
        kill(stack, "outbox-worker")
    finally:
        stack.mailbox.before_reply = None
        release.set()
    held_link = seen[HELD_AT - 1]

    statuses = links_of_messages(stack, prefix)
    assert statuses[held_link] == "sending"
    with database(stack) as connection:
        [dead_worker] = {
            by
            for (by,) in connection.execute(
                "SELECT DISTINCT m.claimed_by FROM delivery_messages m "
                "JOIN capture_requests r ON r.id = m.capture_request_id "
                "WHERE m.status = 'sending' AND r.reference LIKE %s",
                (prefix + "%",),
            ).fetchall()
        }
    claimed = {link for link, status in statuses.items() if status == "sending"}

    stack.restart("outbox-worker")
    wait_until(
        lambda: all(
            status == "sent" or link in claimed
            for link, status in links_of_messages(stack, prefix).items()
        ),
        60,
        "every link the dead worker did not hold to be sent",
        every=0.2,
    )
    assert {
        link for link, status in links_of_messages(stack, prefix).items() if status == "sending"
    } == claimed  # the dead worker's claims are left alone while they last
    assert lapse_leases(stack, "delivery_messages", dead_worker, "DELIVERY_LEASE_SECONDS")
    wait_until(
        lambda: set(links_of_messages(stack, prefix).values()) == {"sent"},
        60,
        "every link sent once the dead worker's claims ran out",
        every=0.2,
    )

    count = count_mail(stack.mailbox.messages[first:], set(links))  # by Message-ID
    assert count.lost == [], count.lost
    resent = {link for message_id in count.doubled for link in count.links_of[message_id]}
    assert resent <= {held_link}, resent  # only the documented case
    with database(stack) as connection:
        sent_rows = Counter(
            message_id
            for (message_id,) in connection.execute(
                f"SELECT details->>'message_id' FROM {AUDITED} WHERE action = 'delivery.sent' "  # noqa: S608
                "AND target_id IN (SELECT public_id FROM capture_requests WHERE reference LIKE %s)",
                (prefix + "%",),
            ).fetchall()
        )
    assert len(sent_rows) == MESSAGES and set(sent_rows.values()) == {1}, sent_rows
    wait_until_sealed(stack, set(links))
    audit_verify(stack)
    record_fault(
        "SIGKILL of the outbox worker as the mail server accepts a message, links queued",
        "restarted; every link delivered; at most the accepted-but-unrecorded one resent "
        "(documented at-least-once), same Message-ID",
        f"{MESSAGES} links delivered, {len(claimed)} held by the dead worker sent after its "
        f"lease ran out; {count.doubles} resent (the one accepted at the kill), Message-ID kept",
        len(count.lost),
        count.doubles,
    )
