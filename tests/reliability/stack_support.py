"""Helpers for the fault tests on the production-like stack (tests/prodlike/stack.py): browsers
over HTTPS through nginx, Stripe's sandbox as the customer's browser and Stripe's dashboard
see it, the stack's database, the mail it sent, and the operator's ``flask audit verify``.
(Not called ``*_test.py``: pytest would collect it.)
"""

from __future__ import annotations

import re
import signal
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage

import psycopg
import pyotp
import requests
from sqlalchemy import select

from tests.prodlike.stack import Stack, start_stack
from tests.reliability.support import NO_RATE_LIMITS
from tests.support.capture import public_id_of
from tests.support.loopback import wait_until
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from

#: Every per-IP limit lifted (the one setting the fault tests change: every simulated browser
#: shares 127.0.0.1), as the environment variables production reads them from.
LIFTED_RATE_LIMITS = {f"POSTERN_{name}": value for name, value in NO_RATE_LIMITS.items()}
IDENTITY_ANSWER = "SW1A 1AA"
_LINK = re.compile(r"https://[^\s\"'<>]+/c/[A-Za-z0-9_.\-]+")
_CLIENT_SECRET = re.compile(r'data-client-secret="([^"]+)"')


def start_fault_stack(name: str, database_url: str | None = None) -> Stack:
    """The production-like stack with the rate limits lifted (LIFTED_RATE_LIMITS)."""
    return start_stack(name=name, database_url=database_url, extra_env=LIFTED_RATE_LIMITS)


def plain_url(url: str) -> str:
    """A database URL as psycopg (not SQLAlchemy) takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def database(stack: Stack):
    """An autocommit connection to the stack's database, as an operator's psql would be."""
    with psycopg.connect(plain_url(stack.database_url), autocommit=True) as connection:
        yield connection


# --- people at the portal, over HTTPS through nginx ------------------------------------------


def browser(stack: Stack) -> requests.Session:
    """A browser-like session trusting the run's CA. It sends our own origin as Referer on
    every request, as a browser posting our forms does (CSRF's strict check over HTTPS)."""
    session = stack.https()
    session.headers["Referer"] = stack.url + "/"
    return session


def add_agent(stack: Stack, username: str) -> int:
    """An agent account, with the second factor production asks of agents; returns its id."""
    stack.add_staff("agent", username, DEFAULT_PASSWORD)
    return staff_id(stack, username)


def signed_in_agent(stack: Stack, username: str) -> tuple[int, requests.Session]:
    """A new agent account signed in through the real forms (password, then its TOTP code, as
    production asks of agents); returns (its id, the signed-in session)."""
    secret = stack.add_staff("agent", username, DEFAULT_PASSWORD)
    return staff_id(stack, username), sign_in(stack, username, secret)


def staff_id(stack: Stack, username: str) -> int:
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with stack.app().app_context():
        return db.session.execute(
            select(StaffUser.id).where(StaffUser.username == username)
        ).scalar_one()


def sign_in(stack: Stack, username: str, totp_secret: str | None = None) -> requests.Session:
    """A staff member signed in through the real forms (password, then the TOTP code)."""
    session = browser(stack)
    page = session.get(stack.url + "/login", timeout=30)
    answer = session.post(
        stack.url + "/login",
        data={
            "username": username,
            "password": DEFAULT_PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    if totp_secret:
        page = session.get(stack.url + "/login/mfa", timeout=30)
        answer = session.post(
            stack.url + "/login/mfa",
            data={"code": pyotp.TOTP(totp_secret).now(), "csrf_token": csrf_from(page.text)},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    return session


# --- the workers -----------------------------------------------------------------------------


def kill(stack: Stack, name: str) -> None:
    """SIGKILL a service (a worker): no clean-up, no goodbye, as the OOM killer does it."""
    service = stack.services[name]
    service.process.send_signal(signal.SIGKILL)
    service.process.wait(timeout=10)


def pause(stack: Stack, name: str) -> None:
    """Freeze a service (SIGSTOP) where it is, as a machine under load or a debugger would:
    it makes no call and takes no work until ``resume``."""
    stack.services[name].process.send_signal(signal.SIGSTOP)


def resume(stack: Stack, name: str) -> None:
    stack.services[name].process.send_signal(signal.SIGCONT)


def lapse_leases(stack: Stack, table: str, worker_id: str, setting: str) -> int:
    """Move the leases ``worker_id`` (a dead worker) holds in ``table`` back by the length of a
    lease (the setting ``setting``), as the passing of that time would; nothing else in the rows
    changes. Returns how many leases lapsed. The worker's own code then finds them due exactly as
    it would ``setting`` seconds later."""
    seconds = int(stack.app().config[setting])
    assert table in ("delivery_messages", "processed_webhook_events")
    with database(stack) as connection:
        return connection.execute(
            f"UPDATE {table} SET claimed_until = claimed_until - make_interval(secs => %s) "  # noqa: S608 - a fixed table name
            "WHERE claimed_by = %s AND claimed_until IS NOT NULL",
            (seconds, worker_id),
        ).rowcount


# --- the operator ----------------------------------------------------------------------------


def audit_verify(stack: Stack) -> str:
    """``flask audit verify`` as the operator's cron runs it; AssertionError unless it passes.
    Returns what it said."""
    ran = stack.flask("audit", "verify")
    assert ran.returncode == 0, f"flask audit verify failed:\n{ran.stdout}{ran.stderr}"
    return ran.stdout.strip()


# --- mail ------------------------------------------------------------------------------------


def link_in(email: EmailMessage) -> str:
    """The link an email carries (its plain-text part), named by its public id: what the outbox
    keeps of a link (``links_of_messages``)."""
    return public_id_of(_LINK.search(email.get_body(("plain",)).get_content()).group(0))


@dataclass(frozen=True)
class MailCount:
    """How the emails that arrived compare with the links that should have been sent."""

    lost: list[str]  # links never delivered
    by_message_id: Counter  # Message-ID: copies that arrived
    links_of: dict[str, set[str]]  # Message-ID: the links its copies carried

    @property
    def doubled(self) -> dict[str, int]:
        """Message-ID: copies beyond the first."""
        return {mid: count - 1 for mid, count in self.by_message_id.items() if count > 1}

    @property
    def doubles(self) -> int:
        return sum(self.doubled.values())


def count_mail(messages: list[EmailMessage], expected_links: set[str]) -> MailCount:
    """Count the ``messages`` that carry one of ``expected_links`` by their Message-ID (the same
    on every attempt at one outbox message), and which links never arrived. AssertionError if a
    Message-ID carries two links, or a link two Message-IDs (a resend without its Message-ID)."""
    by_message_id: Counter = Counter()
    links_of: dict[str, set[str]] = {}
    ids_of: dict[str, set[str]] = {}
    for message in messages:
        link = link_in(message)
        if link in expected_links:
            message_id = str(message["Message-ID"])
            by_message_id[message_id] += 1
            links_of.setdefault(message_id, set()).add(link)
            ids_of.setdefault(link, set()).add(message_id)
    assert all(len(links) == 1 for links in links_of.values()), "a Message-ID on two links"
    assert all(len(ids) == 1 for ids in ids_of.values()), "a link resent with a new Message-ID"
    return MailCount(sorted(expected_links - set(ids_of)), by_message_id, links_of)


def links_of_messages(stack: Stack, reference_prefix: str) -> dict[str, str]:
    """{link's public id: outbox status} of the outbox messages of requests whose reference
    starts with ``reference_prefix`` (the outbox keeps no link, only its request)."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.delivery import DeliveryMessage

    with stack.app().app_context():
        rows = db.session.execute(
            select(CaptureRequest.public_id, DeliveryMessage.status)
            .join(CaptureRequest, CaptureRequest.id == DeliveryMessage.capture_request_id)
            .where(CaptureRequest.reference.startswith(reference_prefix))
        ).all()
        db.session.remove()
    return dict(rows)


#: Every audit row, sealed into the chain or still pending: the stack seals with its worker
#: (production's ``AUDIT_SEAL``), which links a committed row within about a second, so a row
#: written just now is in one table or the other. One statement reads both in one snapshot, so
#: a row the sealer moves meanwhile is counted once.
AUDITED = (
    "(SELECT target_id, action, actor_label, details FROM audit_events"
    " UNION ALL SELECT target_id, action, actor_label, details FROM audit_pending) AS audited"
)


def wait_until_sealed(stack: Stack, public_ids: set[str], seconds: float = 30) -> None:
    """Wait until the sealer has linked every audit row about ``public_ids`` into the chain
    (counting rows in both tables proves they were written; this proves the sealer runs)."""

    def pending() -> int:
        with database(stack) as connection:
            return connection.execute(
                "SELECT count(*) FROM audit_pending WHERE target_id = ANY(%s)",
                (list(public_ids),),
            ).fetchone()[0]

    wait_until(lambda: pending() == 0, seconds, "the sealer to link the rows into the chain")


def audit_counts(stack: Stack, public_ids: set[str]) -> Counter:
    """How many audit rows each (request, action) has, for ``public_ids``, sealed or pending."""
    with database(stack) as connection:
        rows = connection.execute(
            f"SELECT target_id, action, count(*) FROM {AUDITED}"  # noqa: S608 - a fixed query
            " WHERE target_id = ANY(%s) GROUP BY target_id, action",
            (list(public_ids),),
        ).fetchall()
    return Counter({(target, action): count for target, action, count in rows})
