"""The catalogue is one vocabulary: every event an audit row can become is one an endpoint
can subscribe to, and every step an action ends is a step that can be entered."""

from __future__ import annotations

from portal.hooks.catalogue import (
    DATA_STEP,
    ENTERED,
    EVENT_TYPES,
    FROM_AUDIT,
    PAYMENT_STEP,
    STEP_ENDED_BY,
)


def test_every_mapped_type_is_subscribable():
    assert {event_type for event_type, _ in FROM_AUDIT.values()} <= set(EVENT_TYPES)


def test_steps_entered_and_ended_are_the_same_two():
    entered = {
        build({})["step"] for event_type, build in FROM_AUDIT.values() if event_type == ENTERED
    }
    assert entered == {PAYMENT_STEP, DATA_STEP}
    assert set().union(*STEP_ENDED_BY.values()) == entered


def test_personal_data_events_copy_names_only():
    _, build = FROM_AUDIT["data.submitted"]
    assert build({"field_set": "address", "fields": ["postcode"], "key_id": "k1"}) == {
        "field_set": "address",
        "fields": ["postcode"],
    }


def test_a_decline_carries_its_code_and_plain_words():
    _, build = FROM_AUDIT["payment.failed"]
    decline = build({"failure_code": "card_declined", "decline_code": "insufficient_funds"})
    assert decline["decline"]["decline_code"] == "insufficient_funds"
    assert decline["decline"]["message"].endswith(".")
