"""Every status of the state machine, with every variant that changes the panel's words (how the
link was given and whether its message has gone, identity check or none, Start pressed or not,
lapsed or not, and every payment moment), has words; and none says something untrue:

- "Link sent" before a message has gone, or ever for a copy-link request;
- "Link works until ..." on a request whose link can no longer be used;
- a green "Finished" on a request that did not finish successfully;
- a green "Identity confirmed" when no identity check was set.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from portal.capture import kinds
from portal.capture.states import EXPIRABLE, Status
from portal.live_status import panel
from portal.models.delivery import DeliveryMessage, MessageStatus
from portal.models.types import utcnow
from portal.payments.standing import PaymentFacts, PaymentState, standing, state_of
from tests.support.capture import capture_request_row

TONES = {"good", "bad", "muted", "active"}
P = PaymentState
_PAID = {"status": "succeeded", "card_brand": "visa", "card_last4": "4242"}
#: Facts that put a £12.50 payment in each state.
PAYMENT_FACTS = {
    P.NOT_STARTED: {"status": None},
    P.ON_PAYMENT_PAGE: {"status": "requires_payment_method"},
    P.CONFIRMING: {"status": "requires_action"},
    P.DECLINED: {
        "status": "requires_payment_method",
        "failed_attempts": 1,
        "decline_code": "insufficient_funds",
        "failure_code": "card_declined",
    },
    P.PROCESSING: {"status": "processing"},
    P.PAID: _PAID,
    P.PARTIALLY_REFUNDED: {**_PAID, "refunded_minor": 500},
    P.REFUNDED: {**_PAID, "refunded_minor": 1250},
    P.REFUND_PENDING: {**_PAID, "pending_refund_minor": 500},
    P.DISPUTED: {**_PAID, "dispute_status": "needs_response", "dispute_amount_minor": 1250},
    P.DISPUTE_WON: {**_PAID, "dispute_status": "won", "dispute_amount_minor": 1250},
    P.DISPUTE_LOST: {**_PAID, "dispute_status": "lost", "dispute_amount_minor": 1250},
    P.CANCELLED: {"status": "canceled"},
    P.FAILED: {"status": "canceled", "failed_attempts": 3, "decline_code": "do_not_honor"},
}
#: How the link reached the customer: copy link, or a message in each outbox state (or none).
DELIVERIES = [("copy", None)] + [
    (channel, state) for channel in (kinds.SMS, kinds.EMAIL) for state in (None, *MessageStatus)
]


def _facts(state: PaymentState) -> PaymentFacts:
    return PaymentFacts(amount_minor=1250, currency="GBP", **PAYMENT_FACTS[state])


def test_the_enumeration_covers_every_payment_state():
    assert set(PAYMENT_FACTS) == set(PaymentState)
    for state in PaymentState:
        assert state_of(_facts(state)) is state


def _request(status, channel, message_state, *, checked, bound, lapsed, kind="payment"):
    now = utcnow()
    expires_in = timedelta(minutes=-1) if lapsed else timedelta(minutes=10)
    start = now - timedelta(minutes=5)
    at = {
        "sent_at": start,
        "opened_at": start if status not in (Status.CREATED, Status.SENT) else None,
        "bound_at": start if bound or status not in (Status.CREATED, Status.SENT) else None,
    }
    past_verified = status not in (Status.CREATED, Status.SENT, Status.OPENED, Status.LOCKED)
    if (
        past_verified
        and status not in (Status.EXPIRED, Status.REVOKED)
        or (status in (Status.EXPIRED, Status.REVOKED) and bound)
    ):
        at["verified_at"] = start
    if status in (Status.IN_PROGRESS, Status.SUCCEEDED, Status.FAILED, Status.DECLINED):
        at["started_at"] = start
    if status in (Status.SUCCEEDED, Status.FAILED, Status.DECLINED, Status.LOCKED):
        at["finished_at"] = now
    if status in (Status.EXPIRED, Status.REVOKED):
        at["finished_at"] = now
    row = capture_request_row(
        None,
        kind=kind,
        now=now,
        expires_in=expires_in,
        status=status.value,
        link_channel=channel,
        identity_item="postcode" if checked else None,
        identity_failures=0,
        status_reason={
            Status.LOCKED: "identity_failed",
            Status.REVOKED: "revoked_by_agent",
            Status.EXPIRED: "time_limit",
            Status.FAILED: "abandoned",
        }.get(status),
        **at,
    )
    row.link_issued_at = now - timedelta(minutes=5)
    row.delivery_messages = []
    if message_state is not None:
        message = DeliveryMessage(
            channel=channel,
            backend="dev",
            destination_masked="+44 77** ***123",
            status=message_state.value,
            attempts=1,
            customer_notice=None,
            sent_at=now if message_state is MessageStatus.SENT else None,
        )
        row.delivery_messages = [message]
    return row


def _check(data: dict, row, *, checked: bool) -> None:
    label, detail = data["label"], data["detail"]
    where = f"{row.status}/{row.link_channel}/{data['label_status']}"
    assert label and detail and data["tone"] in TONES, where
    messages = row.delivery_messages
    went = bool(messages) and messages[-1].status == MessageStatus.SENT.value
    steps = {step["key"]: step for step in data["steps"]}
    for step in data["steps"]:
        assert step["label"] and step["state_words"], where
    if row.link_channel == kinds.COPY_LINK or not went:
        assert label != "Link sent", where
        assert not (steps["sent"]["label"] == "Link sent" and steps["sent"]["done"]), where
    if row.link_channel == kinds.COPY_LINK:
        assert "Link sent" not in (label, steps["sent"]["label"]), where
    usable = Status(data["status"]) in EXPIRABLE
    assert ("works until" in data["link_lifetime"]) == usable, where
    if data["status"] != Status.SUCCEEDED:
        assert not steps["finished"]["done"], where
    money_taken = bool(data["payment"] and data["payment"]["summary"])
    if data["status"] in ("locked", "expired"):
        assert label != "Completed", where
        # Green only for money actually taken (a payment that succeeded as the link lapsed).
        assert data["tone"] != "good" or money_taken, where
    if not checked:
        assert label != "Identity confirmed", where
        assert not (data["tone"] == "good" and data["label_status"].startswith("verified")), where
        assert steps["verified"]["label"] != "Identity confirmed", where
        assert not steps["verified"]["done"], where


@pytest.mark.parametrize("status", list(Status))
def test_every_status_and_delivery_reads_true(app, status):
    combos = itertools.product(DELIVERIES, (True, False), (True, False), (True, False))
    with app.test_request_context():
        for (channel, message_state), checked, bound, lapsed in combos:
            row = _request(
                status, channel, message_state, checked=checked, bound=bound, lapsed=lapsed
            )
            data = panel.panel_data(row, standing=None, standing_known=True)
            _check(data, row, checked=checked)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("payment_state", list(PaymentState))
def test_every_payment_moment_in_every_status_reads_true(app, status, payment_state):
    paid = standing(_facts(payment_state))
    with app.test_request_context():
        for kind, (channel, message_state), checked in itertools.product(
            ("payment", "both"),
            [("copy", None), (kinds.SMS, MessageStatus.SENT), (kinds.SMS, MessageStatus.FAILED)],
            (True, False),
        ):
            row = _request(
                status,
                channel,
                message_state,
                checked=checked,
                bound=False,
                lapsed=False,
                kind=kind,
            )
            data = panel.panel_data(row, standing=paid, standing_known=True)
            _check(data, row, checked=checked)
            if data["label_status"].startswith("payment_"):
                assert data["label"] == paid.label and data["tone"] == paid.tone


@pytest.mark.parametrize("status", list(Status))
def test_a_data_request_in_every_status_reads_true(app, status):
    with app.test_request_context():
        for checked in (True, False):
            row = _request(
                status,
                kinds.SMS,
                MessageStatus.SENT,
                checked=checked,
                bound=False,
                lapsed=False,
                kind="data",
            )
            data = panel.panel_data(row, standing=None, standing_known=True)
            _check(data, row, checked=checked)
            assert data["data"], "the fields asked for are listed"


def test_the_specific_words():
    """The headline words an agent reads aloud for the link's moments."""
    from portal.live_status import wording

    def words(channel, state, checked=True, status=Status.SENT):
        row = _request(status, channel, state, checked=checked, bound=False, lapsed=False)
        return wording.status_words(row, status).label

    assert words("copy", None) == "Link ready to give"
    assert words(kinds.SMS, MessageStatus.QUEUED) == "Sending the link"
    assert words(kinds.SMS, MessageStatus.SENDING) == "Sending the link"
    assert words(kinds.SMS, MessageStatus.SENT) == "Link sent"
    assert words(kinds.EMAIL, MessageStatus.FAILED) == "Link not delivered"
    assert words(kinds.SMS, MessageStatus.CANCELLED) == "Link not sent"
    assert words(kinds.SMS, MessageStatus.SENT, status=Status.VERIFIED) == "Identity confirmed"
    unchecked = words(kinds.SMS, MessageStatus.SENT, checked=False, status=Status.VERIFIED)
    assert unchecked == "Started, no identity check"
