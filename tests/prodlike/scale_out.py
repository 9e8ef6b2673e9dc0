"""Helpers for the scale-out tests on the production-like stack (tests/prodlike/stack.py), which
runs two app instances behind nginx: requests sent to one chosen instance, and the bounded
load run that kills one of them. (Not called ``test_*.py``: pytest would collect it.)
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

from tests.prodlike.certificates import HOST
from tests.prodlike.proxy import UPSTREAM_HEADER
from tests.prodlike.stack import Stack
from tests.reliability.support import create_form

_ISSUED_LINK = re.compile(r'id="issued-link-url" class="copy-source" value="([^"]+)"')
#: What a client takes for "the request did not get through; send it again": nginx's answers
#: for an instance that died under it, and a connection that broke.
RETRYABLE = frozenset({502, 503, 504})


def send_to_instance(
    stack: Stack, name: str, browser: requests.Session, path: str, data: dict
) -> requests.Response:
    """POST ``data`` to ``path`` on the instance ``name`` itself, past nginx's round robin,
    with the headers nginx adds (the client address, scheme, host and port) and the browser's
    cookies and Referer: what nginx would send there."""
    port = stack.url.rsplit(":", 1)[1]
    headers = {
        "Host": HOST,
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": HOST,
        "X-Forwarded-Port": port,
        "Referer": stack.url + path,
        "Cookie": "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies),
    }
    session = requests.Session()
    session.trust_env = False
    return session.post(
        f"http://{stack.instances[name]}{path}",
        data=data,
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )


def issued_link(page_html: str) -> str | None:
    """The customer link a "copy link" create shows the agent, if the page shows one."""
    found = _ISSUED_LINK.search(page_html)
    return found.group(1) if found else None


# --- the load run ----------------------------------------------------------------------------


@dataclass
class Attempt:
    """One HTTP attempt of the load run."""

    kind: str  # "create" or "landing"
    key: str  # the create's idempotency key (for a landing, the key of the request it opens)
    started: float  # time.monotonic()
    status: int | str  # the status, or the name of the connection error
    instance: str | None  # which instance answered (None: nobody did)
    proxy_moved_on: bool  # nginx tried one instance, then the other

    @property
    def served(self) -> bool:
        """An instance answered it (rather than nginx, for an instance that failed)."""
        return isinstance(self.status, int) and self.status not in RETRYABLE


@dataclass
class LoadRun:
    """A bounded load run of creates (each with its idempotency key) and customer landings,
    from ``clients`` threads, each signed in as its own agent. A client retries a request that
    did not get through (502/503/504, connection error) with the same key, up to
    ``max_tries`` times."""

    stack: Stack
    agents: list[requests.Session]
    creates_per_client: int
    landing_every: int  # land on the link of every n-th create
    seconds: float  # the pace: the planned requests spread over about this long
    csrf: list[str]
    max_tries: int = 6
    attempts: list[Attempt] = field(default_factory=list)
    finals: dict[tuple[str, str], Attempt] = field(default_factory=dict)  # (kind, key): last
    links: dict[str, str] = field(default_factory=dict)  # create key: link
    done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def planned_per_client(self) -> int:
        landings = -(-self.creates_per_client // self.landing_every)
        return self.creates_per_client + landings

    @property
    def planned(self) -> int:
        return self.planned_per_client * len(self.agents)

    def keys(self) -> set[str]:
        return {key for kind, key in self.finals if kind == "create"}

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._client, args=(number,), daemon=True)
            for number in range(len(self.agents))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=self.seconds * 6)
        assert not any(thread.is_alive() for thread in threads), "a client never finished"

    def _client(self, number: int) -> None:
        browser, csrf = self.agents[number], self.csrf[number]
        interval = self.seconds / self.planned_per_client
        began = time.monotonic()
        step = 0
        for index in range(self.creates_per_client):
            key = secrets.token_urlsafe(16)
            form = create_form(csrf, key, f"SCALE-{key}", "copy")
            self._pace(began, step, interval)
            step += 1
            answer = self._send("create", key, browser, "POST", "/agent/requests", form)
            if index % self.landing_every == 0:
                self._pace(began, step, interval)
                step += 1
                link = issued_link(answer.text) if answer is not None else None
                if link is None:  # a retry found it created: its link was shown only once
                    continue
                self.links[key] = link
                self._send("landing", key, self.stack.https(), "GET", link, None)

    @staticmethod
    def _pace(began: float, step: int, interval: float) -> None:
        delay = began + step * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the load, not waiting for an outcome

    def _send(self, kind, key, browser, method, target, form) -> requests.Response | None:
        url = target if target.startswith("https://") else self.stack.url + target
        answer = None
        for _ in range(self.max_tries):
            started = time.monotonic()
            try:
                answer = browser.request(
                    method,
                    url,
                    data=form,
                    verify=str(self.stack.certificates.ca_file),
                    allow_redirects=False,
                    timeout=30,
                )
                status: int | str = answer.status_code
                tried = answer.headers.get(UPSTREAM_HEADER, "")
                instance = self.stack.instance_of(answer) if tried else None
            except requests.RequestException as problem:
                answer, status, tried, instance = None, type(problem).__name__, "", None
            attempt = Attempt(kind, key, started, status, instance, "," in tried)
            with self._lock:
                self.attempts.append(attempt)
                self.finals[(kind, key)] = attempt
                self.done += 1
            if isinstance(status, int) and status not in RETRYABLE:
                return answer
            time.sleep(0.2)  # a client's pause before it sends again
        return answer

    def figures(self, killed: str, killed_at: float, began: float) -> dict:
        """What the run did, for the report: requests served per instance, retries, losses."""
        finals = list(self.finals.values())
        answered = [attempt for attempt in self.attempts if attempt.served]
        served = Counter(attempt.instance for attempt in answered)
        after_kill = Counter(a.instance for a in answered if a.started > killed_at)
        return {
            "intended_requests": len(finals),
            "planned_requests": self.planned,
            "http_attempts": len(self.attempts),
            "served_by_instance": dict(sorted(served.items())),
            "served_after_the_kill": dict(sorted(after_kill.items())),
            "client_retries": len(self.attempts) - len(finals),
            "moved_on_by_the_proxy": sum(attempt.proxy_moved_on for attempt in self.attempts),
            "final_5xx": sum(1 for a in finals if not isinstance(a.status, int) or a.status >= 500),
            "final_statuses": dict(Counter(str(a.status) for a in finals)),
            "killed_instance": killed,
            "killed_after_seconds": round(killed_at - began, 2),
        }
