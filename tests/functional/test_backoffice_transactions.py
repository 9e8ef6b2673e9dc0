"""The back office's transactions list and detail page: who sees what, filters, keyset pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.backoffice_read import Req, many, seed
from tests.support.capture import create_direct
from tests.support.web import csrf_from, signed_in

NOW = datetime.now(UTC).replace(microsecond=0)
ROW_IDS = re.compile(r'href="/backoffice/transactions/(R\d{9})"')


def ids_on(response) -> list[str]:
    return ROW_IDS.findall(response.get_data(as_text=True))


@pytest.fixture
def world(app, make_staff):
    """Two teams, an agent in each, and a request by each agent every minute."""
    north = make_staff("agent", username="nora", team="North")
    south = make_staff("agent", username="sam", team="South")
    seed(
        app,
        many(
            10,
            agents=[(north.id, north.team_id), (south.id, south.team_id)],
            newest=NOW - timedelta(minutes=1),
            spacing=timedelta(minutes=1),
        ),
    )
    return north, south


def search(client, **filters):
    """Submit the filter form (POST, then follow the redirect to the GET list)."""
    page = client.get("/backoffice/transactions")
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), **filters}
    return client.post("/backoffice/transactions/search", data=data, follow_redirects=True)


def test_agents_are_refused_the_whole_back_office(app, make_staff, world):
    client, _ = signed_in(app, make_staff, "agent")
    for path in (
        "/backoffice/",
        "/backoffice/transactions",
        "/backoffice/transactions/R000000001",
        "/backoffice/transactions/export.csv",
        "/backoffice/audit",
    ):
        assert client.get(path).status_code == 403, path


def test_the_list_shows_every_request_newest_first_to_back_office_staff(app, make_staff, world):
    client, _ = signed_in(app, make_staff, "backoffice")
    response = client.get("/backoffice/transactions")
    assert response.status_code == 200
    assert ids_on(response) == [f"R{n:09d}" for n in range(1, 11)]
    html = response.get_data(as_text=True)
    assert "nora" in html and "South" in html and "£12.50" in html


def test_auditors_read_all_and_supervisors_only_their_team(app, make_staff, world):
    north, south = world
    auditor, _ = signed_in(app, make_staff, "auditor")
    assert len(ids_on(auditor.get("/backoffice/transactions"))) == 10

    supervisor, _ = signed_in(app, make_staff, "supervisor", team="North")
    shown = ids_on(supervisor.get("/backoffice/transactions"))
    assert shown == [f"R{n:09d}" for n in range(1, 11, 2)]  # the odd ones are North's
    assert supervisor.get("/backoffice/transactions/R000000001").status_code == 200
    assert supervisor.get("/backoffice/transactions/R000000002").status_code == 404
    # Asking for the other team by name changes nothing: the scope is not a filter.
    assert ids_on(search(supervisor, agent="sam")) == []


def test_filters_narrow_the_list(app, make_staff):
    north = make_staff("agent", username="nora", team="North")
    south = make_staff("agent", username="sam", team="South")
    base = {"agent_id": north.id, "team_id": north.team_id}
    seed(
        app,
        [
            Req(1, NOW - timedelta(days=3), **base, reference="ACC-77", amount_minor=500),
            Req(
                2,
                NOW - timedelta(days=2),
                **base,
                status="succeeded",
                paid_after=timedelta(minutes=2),
                card_last4="4242",
            ),
            Req(3, NOW - timedelta(days=1), south.id, south.team_id, kind="data"),
            Req(4, NOW - timedelta(hours=1), south.id, south.team_id, amount_minor=99_999),
        ],
    )
    client, _ = signed_in(app, make_staff, "backoffice")

    def found(**filters):
        response = search(client, **filters)
        assert response.status_code == 200, response.get_data(as_text=True)[:2000]
        return [int(public_id[1:]) for public_id in ids_on(response)]

    assert found(status="succeeded") == [2]
    assert found(kind="data") == [3]
    assert found(agent="NORA") == [2, 1]
    assert found(team=str(south.team_id)) == [4, 3]
    assert found(reference="acc-77") == [1]
    assert found(amount_min="10", amount_max="12.50") == [2]
    assert found(amount_min="999.99") == [4]
    assert found(card_last4="4242") == [2]
    day = (NOW - timedelta(days=2)).date().isoformat()
    assert 2 in found(date_from=day, date_to=day)
    assert found(date_from=(NOW + timedelta(days=2)).date().isoformat()) == []


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"date_from": "31/02/2026"}, "Created from: enter a real date"),
        ({"date_to": "yesterday"}, "Created to: enter a real date"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "Created to: must be the same"),
        ({"amount_min": "12.345"}, "Amount from: use at most 2 decimal places"),
        ({"amount_max": "lots"}, "Amount to: enter an amount in numbers only"),
        ({"amount_min": "20", "amount_max": "10"}, "Amount to: must be the same as or more"),
        ({"card_last4": "424"}, "Card last 4 digits: enter exactly 4 digits"),
        ({"card_last4": "42a2"}, "Card last 4 digits: enter exactly 4 digits"),
        ({"status": "settled"}, "Status: choose one of the statuses"),
        ({"agent": "nobody"}, "Agent username: no staff member has the username nobody"),
        ({"team": "999"}, "Team: choose one of the teams"),
    ],
)
def test_each_bad_filter_is_refused_with_a_message_naming_the_field(
    app, make_staff, filters, message
):
    client, _ = signed_in(app, make_staff, "backoffice")
    response = search(client, **filters)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'class="error-summary" role="alert"' in html
    assert message in html
    # The same rule holds for a hand-made GET URL.
    assert client.get("/backoffice/transactions", query_string=filters).status_code == 400


def test_a_card_number_in_a_search_box_is_refused_and_never_echoed_or_put_in_a_url(app, make_staff):
    client, _ = signed_in(app, make_staff, "backoffice")
    page = client.get("/backoffice/transactions")
    response = client.post(
        "/backoffice/transactions/search",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "reference": "4111 1111 1111 1111",
        },
    )
    assert response.status_code == 400  # no redirect: the number never becomes a URL
    html = response.get_data(as_text=True)
    assert "Reference: This looks like a card number" in html
    assert "4111" not in html


def test_keyset_pages_have_no_gaps_or_repeats_when_timestamps_tie(app, make_staff):
    agent = make_staff("agent", team="North")
    # 60 requests, in groups of 7 sharing one timestamp: ties across page boundaries.
    reqs = [Req(n, NOW - timedelta(seconds=n // 7), agent.id, agent.team_id) for n in range(1, 61)]
    seed(app, reqs)
    client, _ = signed_in(app, make_staff, "backoffice")

    seen, url, pages = [], "/backoffice/transactions?per_page=25", []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(ids_on(response))
        seen += pages[-1]
        older = re.search(r'rel="next" href="([^"]+)"', response.get_data(as_text=True))
        url = older and older.group(1).replace("&amp;", "&")
    # Newest first: the smallest n // 7 is the newest second; within a second, highest id first.
    expected = [r.public_id() for r in sorted(reqs, key=lambda r: (r.id // 7, -r.id))]
    assert seen == expected  # every request exactly once, newest first, ties by id
    assert [len(page) for page in pages] == [25, 25, 10]

    # And back again: "Newer" from the last page gives the middle page exactly.
    newer = re.search(r'rel="prev" href="([^"]+)"', response.get_data(as_text=True)).group(1)
    assert ids_on(client.get(newer.replace("&amp;", "&"))) == pages[1]


def test_a_forged_cursor_is_refused(app, make_staff, world):
    client, _ = signed_in(app, make_staff, "backoffice")
    response = client.get("/backoffice/transactions?after=1;DROP TABLE")
    assert response.status_code == 400
    assert "That page link is not valid" in response.get_data(as_text=True)


def test_a_lapsed_link_reads_and_filters_as_expired(app, make_staff):
    agent = make_staff("agent", team="North")
    seed(
        app,
        [
            Req(
                1, NOW - timedelta(hours=2), agent.id, agent.team_id, expires_in=timedelta(hours=1)
            ),
            Req(2, NOW - timedelta(hours=1), agent.id, agent.team_id),
        ],
    )
    client, _ = signed_in(app, make_staff, "backoffice")
    assert [p[1:] for p in ids_on(search(client, status="expired"))] == ["000000001"]
    assert [p[1:] for p in ids_on(search(client, status="sent"))] == ["000000002"]


def test_the_detail_page_tells_the_whole_story_without_card_numbers_or_values(app, make_staff):
    from portal import audit
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.delivery import DeliveryAttempt, DeliveryMessage
    from portal.models.payment import Payment, PaymentAttempt
    from portal.models.refund import Refund
    from portal.models.types import utcnow

    agent = make_staff("agent", team="North")
    asker = make_staff("backoffice", username="asker")
    approver = make_staff("backoffice", username="approver")
    public_id, _ = create_direct(app, agent.id, reference="INV-9")
    with app.app_context():
        request = db.session.query(CaptureRequest).filter_by(public_id=public_id).one()
        payment = Payment(
            capture_request_id=request.id,
            amount_minor=1250,
            currency="GBP",
            status="succeeded",
            card_brand="visa",
            card_last4="4242",
            stripe_payment_intent_id="pi_123",
            succeeded_at=utcnow(),
        )
        db.session.add(payment)
        db.session.flush()
        db.session.add_all(
            [
                PaymentAttempt(
                    payment_id=payment.id,
                    provider_ref="ch_1",
                    outcome="failed",
                    failure_code="card_declined",
                    decline_code="insufficient_funds",
                    card_brand="visa",
                    card_last4="0341",
                ),
                PaymentAttempt(
                    payment_id=payment.id,
                    provider_ref="ch_2",
                    outcome="succeeded",
                    card_brand="visa",
                    card_last4="4242",
                    three_d_secure="authenticated",
                ),
            ]
        )
        message = DeliveryMessage(
            capture_request_id=request.id,
            channel="sms",
            backend="dev",
            destination="+447700900123",
            destination_masked="+44 77** ***123",
            status="sent",
            attempts=1,
        )
        db.session.add(message)
        db.session.flush()
        db.session.add(
            DeliveryAttempt(
                message_id=message.id,
                attempt_number=1,
                worker="w1",
                started_at=utcnow(),
                finished_at=utcnow(),
                outcome="sent",
            )
        )
        db.session.add(
            Refund(
                payment_id=payment.id,
                amount_minor=500,
                currency="GBP",
                reason_code="duplicate",
                reason_note="charged twice",
                status="succeeded",
                requested_by_id=asker.id,
                decided_by_id=approver.id,
                decided_at=utcnow(),
                completed_at=utcnow(),
            )
        )
        audit.record(
            "data.revealed",
            target_type="capture_request",
            target_id=public_id,
            details={"reason": "customer called back", "fields": ["postcode"]},
            actor=audit.Actor("bob", 99, "backoffice"),
        )
        db.session.commit()

    client, _ = signed_in(app, make_staff, "auditor")
    response = client.get(f"/backoffice/transactions/{public_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for expected in (
        "Request created",
        "Link sent",
        "SMS to +44 77** ***123: attempt 1 sent",
        "Visa •••• 0341: declined",
        "why: there is not enough money available on the card",
        "Visa •••• 4242: paid",
        "Personal details revealed to staff",
        "bob (backoffice)",
        "INV-9",
        "Refund of £5.00 asked for",
        "Refund of £5.00 approved",
        "Refund of £5.00: refunded",
        "Partially refunded",
        "£12.50 paid with Visa •••• 4242. £5.00 refunded. £7.50 kept.",
    ):
        assert expected in html, expected
    assert "succeeded</dd>" not in html and "requires_" not in html  # no Stripe statuses
    assert "+447700900123" not in html  # the destination only masked
    assert not re.search(r"\b\d{13,19}\b", html)  # never a card number


def test_a_fully_refunded_payment_reads_refunded_on_the_list_and_the_detail(app, make_staff):
    """The list's status, its payment column and the detail page all say "Refunded" with
    nothing kept; "paid", "refunded", "partially refunded" and "disputed" filter by what the
    payment reads as (a failed refund gives nothing back)."""
    from tests.functional.payment_standing_support import add_dispute, add_refund

    agent = make_staff("agent", team="North")
    clerk = make_staff("backoffice", username="clerk")
    paid = {"status": "succeeded", "paid_after": timedelta(minutes=1), "card_last4": "4242"}
    seed(
        app,
        [Req(n, NOW - timedelta(hours=n), agent.id, agent.team_id, **paid) for n in range(1, 6)],
    )
    add_refund(app, "R000000001", 1250, "succeeded", clerk.id)
    add_refund(app, "R000000002", 500, "succeeded", clerk.id)
    add_refund(app, "R000000003", 1250, "failed", clerk.id)
    add_refund(app, "R000000004", 1250, "pending", clerk.id)
    add_dispute(app, "R000000005", 1250, "lost")
    client, _ = signed_in(app, make_staff, "backoffice")

    html = client.get("/backoffice/transactions").get_data(as_text=True)
    rows = {
        int(match.group(1)): match.group(0)
        for match in re.finditer(r"(?s)>R0*(\d+)</a>.*?</tr>", html)
    }
    assert 'data-status="payment_refunded" data-tone="muted">Refunded</span>' in rows[1]
    assert "Refunded £12.50. Net £0.00." in rows[1]
    assert ">Partially refunded<" in rows[2] and "Net £7.50." in rows[2]
    assert ">Paid<" in rows[3] and "Refunded" not in rows[3]
    assert ">Refund pending<" in rows[4] and "On its way back £12.50." in rows[4]
    assert ">Dispute lost<" in rows[5] and "Disputed £12.50. Net £0.00." in rows[5]
    # The dispute's reason and evidence deadline (UK time) are on its row, on no other.
    note = re.search(r"data-dispute-note>([^<]+)<", rows[5]).group(1)
    assert re.fullmatch(
        r"The cardholder says they did not make this payment; "
        r"evidence due \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d UK time",
        note,
    ), note
    assert all("data-dispute-note" not in rows[n] for n in (1, 2, 3, 4))
    assert "Completed" not in html.split("<tbody>")[1]

    detail = client.get("/backoffice/transactions/R000000001").get_data(as_text=True)
    assert re.search(
        r'<h1>Request <span class="mono">R000000001</span> <span [^>]+>Refunded<', detail
    )
    assert 'data-payment-state="refunded">Refunded</span>' in detail
    assert re.search(r'data-testid="net-kept">£0.00<', detail)

    def found(status):
        response = client.get("/backoffice/transactions", query_string={"status": status})
        assert response.status_code == 200
        return [int(public_id[1:]) for public_id in ids_on(response)]

    assert found("refunded") == [1]
    assert found("partially_refunded") == [2]
    assert found("paid") == [3]
    assert found("refund_pending") == [4]
    assert found("disputed") == [5]
    assert found("succeeded") == [1, 2, 3, 4, 5]  # the request's own status is unchanged


def test_unknown_or_malformed_request_ids_are_404(app, make_staff):
    client, _ = signed_in(app, make_staff, "backoffice")
    assert client.get("/backoffice/transactions/R999999999").status_code == 404
    assert client.get("/backoffice/transactions/..%2F..").status_code == 404
