"""The one set of rules a new capture request meets, whoever asks (console, API, command):
each refusal names the field at fault, in the form's and the API's words."""

from __future__ import annotations

import pytest

from portal.capture.errors import CaptureError
from portal.capture.request_rules import TEXT_FIELDS, check_new_request
from portal.capture.service import RequestSpec

CARD = "4111 1111 1111 1111"


def _spec(**overrides) -> RequestSpec:
    values = {
        "kind": "payment",
        "reference": "ACC-1",
        "expiry_minutes": 15,
        "channel": "sms",
        "destination": "+447700900123",
        "amount_minor": 500,
        "currency": "GBP",
        "purpose": "Top-up",
        **overrides,
    }
    return RequestSpec(**values)


@pytest.fixture
def context(app):
    with app.app_context():
        yield


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_a_card_number_in_any_text_field_is_refused_naming_it(context, field):
    with pytest.raises(CaptureError, match="looks like a card number") as refused:
        check_new_request(_spec(identity_item="postcode", **{field: f"x {CARD}"}))
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"currency": "EUR"}, "currency", "GBP only"),
        ({"amount_minor": 5_000_001}, "amount", "The most you can request is £50,000.00"),
        ({"amount_minor": 10}, "amount", "smallest card payment"),
        ({"amount_minor": None}, "amount", "needs an amount"),
        ({"kind": "data", "field_set": "shoe_sizes"}, "field_set", "listed sets"),
        ({"identity_item": "mothers_maiden_name", "identity_value": "x"}, "identity_item", "check"),
        ({"channel": "pigeon"}, "channel", "sms, email or copy"),
        ({"reference": "  "}, "reference", "Enter a reference"),
    ],
)
def test_each_rule_names_its_field(context, overrides, field, words):
    with pytest.raises(CaptureError, match=words) as refused:
        check_new_request(_spec(**overrides))
    assert refused.value.field == field


def test_purpose_is_required_only_when_asked(context):
    check_new_request(_spec(purpose=None))
    with pytest.raises(CaptureError, match="what the payment is for") as refused:
        check_new_request(_spec(purpose=" "), purpose_required=True)
    assert refused.value.field == "purpose"
