"""A CRM creates a request through ``/api/v1``, the customer pays in Chromium, and the outcome
comes back to the CRM as signed webhooks, on the development server and on the
production-like stack (``portal``, tests/browser/journey_support.py).

On the stack everything is as deployed: the API call goes through nginx over TLS to gunicorn
with production settings; ``flask hooks work`` runs as a process and posts over https to a
receiver on loopback, reached through ``POSTERN_HOOKS_ALLOWED_HOSTS`` and trusting the run's CA
through ``POSTERN_HOOKS_CA_BUNDLE`` (an integration gateway inside the buyer's network, as
docs/webhooks.md describes). Every delivery is verified with the ``standardwebhooks`` package,
as the buyer's receiver would.
"""

from __future__ import annotations

import secrets

import pytest
import requests
from playwright.sync_api import expect
from standardwebhooks import Webhook

from tests.browser.journey_support import (
    OUTCOME_MS,
    Portal,
    pay_button,
    press_pay,
    start_and_confirm,
)
from tests.browser.stripe_card import CARD, enter_card
from tests.support.hooks import Receiver, start_receiver
from tests.support.loopback import wait_until

pytestmark = pytest.mark.browser

#: What the CRM hears, in order, about a request it created and the customer paid.
PAID_JOURNEY = [
    "request.created",
    "request.sent",
    "request.opened",
    "request.verified",
    "customer.sensitive_step.entered",
    "payment.succeeded",
    "customer.sensitive_step.left",
    "request.succeeded",
]


def _integration(portal: Portal, team: str) -> tuple[str, str]:
    """An agent of ``team``, an API key for the team, in the portal's database as the back
    office or ``flask apikeys create`` makes them; returns (agent username, key)."""
    from portal import audit
    from portal.api_keys import service
    from portal.cli import create_staff
    from portal.extensions import db
    from portal.staff.accounts import get_or_create_team
    from tests.support.staff import DEFAULT_PASSWORD

    agent = f"agent.{secrets.token_hex(3)}"
    with portal.app.app_context():
        create_staff(agent, DEFAULT_PASSWORD, "agent", team=team)
        created = service.create_key(
            "CRM",
            get_or_create_team(team),
            ["requests:write", "requests:read", "payments:read"],
            created_by=None,
            actor=audit.CLI,
        )
        db.session.commit()
        return agent, created.text


def _receiver(portal: Portal) -> Receiver:
    """The CRM's webhook receiver: https on the stack's allow-listed port, else plain http
    allow-listed on the development app."""
    if portal.stack is not None:
        # The run's certificate names 127.0.0.1 as well as localhost.
        return start_receiver(
            portal.stack.certificates.server_context(), port=portal.stack.hooks_receiver_port
        )
    receiver = start_receiver()
    portal.app.config["HOOKS_ALLOWED_HOSTS"] = [receiver.allow]
    return receiver


def _register(portal: Portal, receiver: Receiver, team: str) -> str:
    from portal import audit
    from portal.extensions import db
    from portal.hooks import endpoints
    from portal.hooks.catalogue import EVENT_TYPES

    with portal.app.app_context():
        _endpoint, secret = endpoints.create_endpoint(
            receiver.url, list(EVENT_TYPES), actor=audit.CLI, team=endpoints.team_named(team)
        )
        db.session.commit()
    return secret


def _api(portal: Portal) -> requests.Session:
    """The CRM's HTTP client: on the stack, trusting the run's CA and nothing else."""
    if portal.stack is not None:
        return portal.stack.https()
    session = requests.Session()
    session.trust_env = False  # a proxy setting would send loopback traffic away
    return session


def test_a_crm_creates_by_api_the_customer_pays_and_the_crm_hears_it_signed(portal, actor):
    team = f"CRM {secrets.token_hex(2)}"
    agent, key = _integration(portal, team)
    receiver = _receiver(portal)
    try:
        secret = _register(portal, receiver, team)
        api = _api(portal)
        api.headers["Authorization"] = f"Bearer {key}"
        reference = f"ACC-{secrets.token_hex(3).upper()}"
        created = api.post(
            f"{portal.url}/api/v1/requests",
            json={
                "agent": agent,
                "kind": "payment",
                "amount": 4250,
                "currency": "GBP",
                "purpose": "Water bill",
                "reference": reference,
                "interaction_id": "call-81",
                "identity_item": "postcode",
                "identity_value": "SW1A 1AA",
                "channel": "copy",
            },
            headers={"Idempotency-Key": secrets.token_hex(8)},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        request_id, link = created.json()["id"], created.json()["link_url"]
        assert link.startswith(portal.url + "/c/")

        customer = actor()
        start_and_confirm(customer, portal, link)
        customer.get_by_role("link", name="Continue to payment").click()
        pay = pay_button(customer, "£42.50")
        expect(pay).to_be_enabled()
        enter_card(customer, CARD)
        press_pay(pay)
        expect(customer.get_by_role("heading", name="Payment received")).to_be_visible(
            timeout=OUTCOME_MS
        )

        # The CRM hears every moment, in order, each delivery signed for its secret.
        wait_until(
            lambda: set(PAID_JOURNEY) <= set(receiver.types()),
            OUTCOME_MS / 1000,
            "the CRM's webhooks",
        )
        verifier = Webhook(secret)
        for delivery in receiver.received:
            assert verifier.verify(delivery.body, delivery.headers) == delivery.event
            assert delivery.headers["webhook-id"] == delivery.event["id"]
        mine = [d.event for d in receiver.received if d.event["type"] in PAID_JOURNEY]
        assert [event["type"] for event in mine] == PAID_JOURNEY
        assert {event["data"]["request"]["id"] for event in mine} == {request_id}
        assert mine[0]["data"]["request"]["interaction_id"] == "call-81"
        paid = next(e for e in mine if e["type"] == "payment.succeeded")
        assert (paid["data"]["amount"], paid["data"]["currency"]) == (4250, "GBP")

        # Polling says the same, in the back office's words.
        read = api.get(f"{portal.url}/api/v1/requests/{request_id}", timeout=30).json()
        assert read["status"] == "succeeded"
        assert read["payment"]["state"] == "paid"
        assert read["payment"]["card"] == {"brand": "Visa", "last4": "4242"}
        events = api.get(f"{portal.url}/api/v1/requests/{request_id}/events", timeout=30).json()
        assert [event["id"] for event in events["data"]] == [event["id"] for event in mine]
        portal.assert_audit_chain_verifies()
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
