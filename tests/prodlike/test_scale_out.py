"""Two app instances behind nginx (tests/prodlike/stack.py), on one PostgreSQL and one Redis:
no sticky session is needed, and killing an instance mid-run loses nothing.

nginx balances round robin, so a browser's consecutive requests land on different instances;
every answer names its instance in ``X-Upstream`` (the test rendering of the proxy only). The
tests share the suite's stack; the load run kills an instance with SIGKILL and starts it again
before it ends. The load run's figures are printed and written to ``scale-out.json`` in the
artifacts folder (docs/scaling.md quotes them).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from functools import partial

import pytest
from sqlalchemy import func, select

from tests.prodlike.scale_out import LoadRun, issued_link, send_to_instance
from tests.reliability.stack_support import (
    audit_counts,
    audit_verify,
    browser,
    signed_in_agent,
)
from tests.reliability.support import console_form, create_form
from tests.support.artifacts import ARTIFACTS
from tests.support.capture import public_id_of
from tests.support.loopback import wait_until
from tests.support.web import csrf_from

pytestmark = pytest.mark.prodlike

#: The instance the load run kills (the README's first one keeps serving).
VICTIM = "gunicorn-2"
#: The load run: creates per client, clients, a landing on every n-th create's link, and how
#: long the planned requests are spread over. 4 x (50 + 25) = 300 requests in about 15 s.
CREATES_PER_CLIENT = 50
CLIENTS = 4
LANDING_EVERY = 2
SECONDS = 15.0
#: Kill the victim once this share of the planned requests is done.
KILL_AFTER = 0.4


def _create_copy_link(stack, agent, reference: str) -> str:
    """A payment request made at the console with "copy link"; returns its link."""
    csrf, key = console_form(agent, stack.url)
    answer = agent.post(
        stack.url + "/agent/requests",
        data=create_form(csrf, key, reference, "copy"),
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 201, (answer.status_code, answer.text[:300])
    return issued_link(answer.text)


def test_a_staff_session_is_valid_on_every_instance(prodlike):
    """Proves: a session signed in through one instance is honoured by the other (sessions are
    rows in PostgreSQL), and signing out on one ends it on both."""
    _, agent = signed_in_agent(prodlike, f"scale.session.{secrets.token_hex(3)}")
    pages = [agent.get(prodlike.url + "/agent/", allow_redirects=False) for _ in range(6)]
    assert [page.status_code for page in pages] == [200] * 6
    assert {prodlike.instance_of(page) for page in pages} == set(prodlike.instances)

    page = pages[-1]
    signed_out = agent.post(
        prodlike.url + "/logout", data={"csrf_token": csrf_from(page.text)}, allow_redirects=False
    )
    assert signed_out.status_code == 302
    after = [agent.get(prodlike.url + "/agent/", allow_redirects=False) for _ in range(4)]
    assert {prodlike.instance_of(answer) for answer in after} == set(prodlike.instances)
    assert all(answer.status_code == 302 for answer in after), [a.status_code for a in after]
    assert all("/login" in answer.headers["Location"] for answer in after)


def test_a_rate_limit_counts_requests_to_both_instances_together(prodlike):
    """Proves: the sign-in limit per account name is one count in Redis for both instances:
    the attempt past the limit is refused although neither instance alone saw that many, and
    from then on both refuse."""
    limit = int(prodlike.app().config["RATELIMIT_LOGIN_PER_ACCOUNT"].split()[0])
    anonymous = browser(prodlike)
    token = csrf_from(anonymous.get(prodlike.url + "/login").text)
    username = f"nobody.{secrets.token_hex(4)}"  # counted per name, whether it exists or not

    def attempt():
        return anonymous.post(
            prodlike.url + "/login",
            data={"username": username, "password": "wrong", "csrf_token": token},
            allow_redirects=False,
        )

    within = [attempt() for _ in range(limit)]
    assert [answer.status_code for answer in within] == [401] * limit
    served = Counter(prodlike.instance_of(answer) for answer in within)
    assert set(served) == set(prodlike.instances)
    assert max(served.values()) < limit, served  # no instance counted to the limit by itself
    refused = [attempt() for _ in range(4)]
    assert [answer.status_code for answer in refused] == [429] * 4
    assert {prodlike.instance_of(answer) for answer in refused} == set(prodlike.instances)


def test_the_agent_panel_reads_the_same_state_from_either_instance(prodlike):
    """Proves: the live panel's JSON and its ETag are the same from both instances, a 304 from
    one instance answers the other's ETag, and a change made through one is seen by both."""
    _, agent = signed_in_agent(prodlike, f"scale.panel.{secrets.token_hex(3)}")
    link = _create_copy_link(prodlike, agent, f"PANEL-{secrets.token_hex(3)}")
    public_id = public_id_of(link)
    status_url = f"{prodlike.url}/agent/api/requests/{public_id}/status"

    def read_on_both():
        answers = [agent.get(status_url) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200] * 4
        assert {prodlike.instance_of(answer) for answer in answers} == set(prodlike.instances)
        assert len({answer.headers["ETag"] for answer in answers}) == 1
        assert all(answer.json() == answers[0].json() for answer in answers)
        return answers[0]

    before = read_on_both()
    assert before.json()["status"] == "sent"  # a "copy link" request: the agent has its link
    unchanged = [
        agent.get(status_url, headers={"If-None-Match": before.headers["ETag"]}) for _ in range(4)
    ]
    assert [answer.status_code for answer in unchanged] == [304] * 4
    assert {prodlike.instance_of(answer) for answer in unchanged} == set(prodlike.instances)

    customer = browser(prodlike)
    landing = customer.get(link)
    started = customer.post(
        link + "/start", data={"csrf_token": csrf_from(landing.text)}, allow_redirects=False
    )
    assert started.status_code == 303
    after = read_on_both()
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.json()["status"] == "opened", after.json()["status"]


def test_one_time_start_holds_when_both_instances_take_it_at_once(prodlike):
    """Proves: two browsers pressing Start on the same link at the same moment, each on a
    different instance, get one winner: exactly one is bound (303 and the binding cookie),
    the other is told the link was used on another device (409). Five links, five races."""
    _, agent = signed_in_agent(prodlike, f"scale.start.{secrets.token_hex(3)}")
    first, second = list(prodlike.instances)[:2]
    for race in range(5):
        link = _create_copy_link(prodlike, agent, f"RACE-{race}-{secrets.token_hex(3)}")
        path = link.removeprefix(prodlike.url) + "/start"
        browsers = [browser(prodlike), browser(prodlike)]
        tokens = [csrf_from(b.get(link).text) for b in browsers]
        answers = _race(
            [
                partial(send_to_instance, prodlike, instance, who, path, {"csrf_token": token})
                for instance, who, token in zip((first, second), browsers, tokens, strict=True)
            ]
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [303, 409], (race, statuses)
        winner = next(answer for answer in answers if answer.status_code == 303)
        assert winner.headers["Set-Cookie"].startswith("postern_link_")


def test_a_load_run_loses_nothing_when_an_instance_is_killed(prodlike):
    """Proves: 300 requests (creates with idempotency keys, customer landings) from 4 clients
    over about 15 s, with one instance killed by SIGKILL 40% of the way in: every create
    exists exactly once with its one audit row, no request ended in a 5xx (clients sent a
    failed one again with the same key; nginx moved idempotent GETs on by itself), both
    instances served before the kill and the survivor alone after it, and the audit chain
    verifies. The figures are printed and written to scale-out.json."""
    agents, csrf, ids = [], [], []
    for number in range(CLIENTS):
        agent_id, agent = signed_in_agent(prodlike, f"scale.load{number}.{secrets.token_hex(3)}")
        agents.append(agent)
        csrf.append(console_form(agent, prodlike.url)[0])
        ids.append(agent_id)
    run = LoadRun(prodlike, agents, CREATES_PER_CLIENT, LANDING_EVERY, SECONDS, csrf)
    killed_at: list[float] = []

    def kill_on_cue() -> None:
        wait_until(lambda: run.done >= run.planned * KILL_AFTER, SECONDS * 4, "the cue")
        prodlike.kill_instance(VICTIM)
        killed_at.append(time.monotonic())

    began = time.monotonic()
    killer = threading.Thread(target=kill_on_cue, daemon=True)
    killer.start()
    try:
        run.run()
        killer.join(timeout=10)
    finally:
        prodlike.start_instance(VICTIM)  # the suite's stack goes on with both
    wall = time.monotonic() - began
    assert killed_at, "the instance was never killed"

    figures = run.figures(VICTIM, killed_at[0], began)
    figures["wall_seconds"] = round(wall, 1)
    keys = run.keys()
    made = _requests_by_key(prodlike, ids)
    figures["lost"] = len(keys - set(made))
    figures["created_twice"] = sum(1 for count in made.values() if count > 1)
    print("\nscale-out load run:", json.dumps(figures, indent=2))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "scale-out.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert len(keys) == CLIENTS * CREATES_PER_CLIENT
    assert figures["lost"] == 0 and figures["created_twice"] == 0
    assert set(made) == keys, "a create the clients did not ask for"
    assert figures["final_5xx"] == 0, figures["final_statuses"]
    for (kind, key), final in run.finals.items():
        expected = {201, 302} if kind == "create" else {200}
        assert final.status in expected, (kind, final.status)
        if final.status == 302:  # "already created": only a resent create may find its first
            assert sum(1 for a in run.attempts if a.key == key and a.kind == kind) > 1
    assert set(figures["served_by_instance"]) == set(prodlike.instances)
    assert set(figures["served_after_the_kill"]) <= set(prodlike.instances) - {VICTIM}
    created = audit_counts(prodlike, set(_public_ids(prodlike, ids)))
    assert {key: count for key, count in created.items() if key[1] == "capture.created"} == {
        (public_id, "capture.created"): 1 for public_id in _public_ids(prodlike, ids)
    }
    audit_verify(prodlike)


def _race(calls: list) -> list:
    """Run ``calls`` on threads of their own, released together; returns their results."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert None not in results, "a racer never answered"
    return results


def _requests_by_key(stack, agent_ids: list[int]) -> dict[str, int]:
    """{create key: how many requests carry it} for the agents ``agent_ids``."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with stack.app().app_context():
        rows = db.session.execute(
            select(CaptureRequest.create_key, func.count())
            .where(CaptureRequest.created_by_id.in_(agent_ids))
            .group_by(CaptureRequest.create_key)
        ).all()
        db.session.remove()
    return dict(rows)


def _public_ids(stack, agent_ids: list[int]) -> list[str]:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with stack.app().app_context():
        found = db.session.execute(
            select(CaptureRequest.public_id).where(CaptureRequest.created_by_id.in_(agent_ids))
        ).scalars()
        result = list(found)
        db.session.remove()
    return result
