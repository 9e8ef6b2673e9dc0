"""Generated bad input against the customer's link pages and the Stripe webhook: Start, the
identity check, the personal-data step, and signed or unsigned webhook bodies of any shape.
No input may produce a 500; every rejection says what is wrong (see test_bad_input_staff)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.security.bad_input_support import BOUNDED, assert_explained, junk
from tests.support.capture import create_direct, path_of, press_start
from tests.support.web import csrf_from

pytestmark = [pytest.mark.bad_input]
SECRET = "whsec_bad_input_tests"
NO_LIMITS = {
    "RATELIMIT_CUSTOMER_LINK_PER_IP": "100000 per minute",
    "RATELIMIT_CUSTOMER_START_PER_IP": "100000 per minute",
    "RATELIMIT_IDENTITY_PER_REQUEST_IP": "100000 per minute",
    "CAPTURE_IDENTITY_MAX_FAILURES": 10**6,
    "STRIPE_WEBHOOK_SECRET": SECRET,
}


def test_link_tokens_and_start(app_factory, make_staff):
    """Proves: junk link tokens, on the link page and on Start with a valid or junk CSRF
    token, never cause a server error; each answer is a redirect or a page whose heading names
    the problem."""
    app = app_factory(**NO_LIMITS)
    _, url = create_direct(app, make_staff("agent").id)
    client = app.test_client()
    token = csrf_from(client.get(path_of(url)).get_data(as_text=True))

    @BOUNDED
    @given(link=junk.filter(lambda s: len(s) < 3000), csrf=st.one_of(st.just(token), junk))
    def check(link, csrf):
        path = "/c/" + (quote(link, safe="") or "x")
        assert_explained(client.get(path), form_page=False)
        assert_explained(client.post(path + "/start", data={"csrf_token": csrf}), form_page=False)

    check()


@pytest.mark.parametrize("item", ["postcode", "date_of_birth", "surname"])
def test_identity_answers(app_factory, make_staff, item):
    """Proves: any answer to the identity check (postcode, date of birth or surname) gets a
    redirect, a 400 or a 413, never a server error. A 400 shows an error summary (role="alert")."""
    app = app_factory(**NO_LIMITS)
    value = {"postcode": "SW1A 1AA", "date_of_birth": "31/03/1980", "surname": "O'Brien"}[item]
    _, url = create_direct(app, make_staff("agent").id, identity_item=item, identity_value=value)
    client = app.test_client()
    assert press_start(client, url).status_code == 303
    check_path = path_of(url) + "/check"
    token = csrf_from(client.get(check_path).get_data(as_text=True))

    @BOUNDED
    @given(answer=junk)
    def check(answer):
        result = client.post(check_path, data={"answer": answer, "csrf_token": token})
        assert result.status_code in (303, 400, 413), result.status_code
        assert_explained(result)
        if result.status_code == 400:
            assert 'role="alert"' in result.get_data(as_text=True)

    check()


@pytest.mark.parametrize("field_set", ["address", "contact", "iban", "bank_details_dd"])
def test_personal_data_step(app_factory, make_staff, field_set):
    """Proves: junk in any field of each personal-data step (dates as day, month and year, and
    the notice version) never causes a server error, and every rejection says what is wrong."""
    app = app_factory(**NO_LIMITS)
    _, url = create_direct(
        app,
        make_staff("agent").id,
        kind="data",
        amount_minor=None,
        currency=None,
        field_set=field_set,
        identity_item=None,
        identity_value=None,
    )
    client = app.test_client()
    assert press_start(client, url).status_code == 303
    details = path_of(url) + "/details"
    page = client.get(details)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    token = csrf_from(html)
    from portal.personal_data.fields import get_field_set

    names = list(get_field_set(field_set).field_names)
    inputs = [*names, *(f"{n}-{p}" for n in names for p in ("day", "month", "year"))]

    @BOUNDED
    @given(values=st.dictionaries(st.sampled_from(inputs + ["notice_version"]), junk, max_size=6))
    def check(values):
        result = client.post(details, data={**values, "csrf_token": token})
        assert result.status_code in (200, 302, 303, 400, 413), result.status_code
        assert_explained(result)

    check()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | junk,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
event_shaped = st.fixed_dictionaries(
    {},
    optional={
        "id": junk,
        "type": st.one_of(junk, st.sampled_from(["payment_intent.succeeded", "charge.failed"])),
        "object": st.one_of(junk, st.just("event")),
        "data": st.one_of(json_values, st.fixed_dictionaries({"object": json_values})),
        "created": st.one_of(st.integers(), junk),
    },
)


def test_webhook_bodies(app_factory, stripe_sandbox):
    """Unsigned junk is refused with 400 and the reason; SIGNED junk of any JSON shape (what a
    compromised or buggy sender could produce) is handled or ignored, never a 500."""
    from stripe_sandbox.webhooks import sign

    app = app_factory(**NO_LIMITS, STRIPE_API_BASE=stripe_sandbox.url)
    client = app.test_client()

    @BOUNDED
    @given(body=st.one_of(event_shaped, json_values), signature=junk, signed=st.booleans())
    def check(body, signature, signed):
        raw = json.dumps(body).encode()
        header = (
            sign(raw, SECRET)
            if signed
            else signature.encode("latin-1", "ignore")
            .decode("latin-1")
            .replace("\n", "")
            .replace("\r", "")
        )
        result = client.post(
            "/webhooks/stripe",
            data=raw,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        assert result.status_code in (200, 400, 413, 503), (result.status_code, result.get_data())
        if result.status_code == 400:
            assert result.get_json() == {"error": "invalid signature"}

    check()
