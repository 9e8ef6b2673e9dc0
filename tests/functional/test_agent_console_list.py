"""The agent's list of requests: filtered by state, searched by reference, ten to a page, on
the server (so it works without JavaScript); the live refresh asks for the same list, and still
updates a panel the page shows after it stopped matching the filter."""

from __future__ import annotations

import re

from portal.capture.console_list import PAGE_SIZE, ListFilter
from tests.support.capture import create_direct, expire, update_request
from tests.support.card_numbers import shows_card_digits


def _panel_ids(page: str) -> list[str]:
    return re.findall(r'<article class="request-panel" data-request="([^"]+)"', page)


def test_the_list_pages_ten_at_a_time_newest_first(app, logged_in):
    client, agent = logged_in("agent")
    ids = [create_direct(app, agent.id, reference=f"INV-{n:03d}")[0] for n in range(23)]
    first = client.get("/agent/").get_data(as_text=True)
    assert _panel_ids(first) == list(reversed(ids))[:PAGE_SIZE]
    assert "Showing 1 to 10 of 23" in first
    assert 'href="/agent/?page=2"' in first and "&larr; Newer" not in first
    third = client.get("/agent/?page=3").get_data(as_text=True)
    assert _panel_ids(third) == list(reversed(ids))[20:]
    assert "Showing 21 to 23 of 23" in third and "Older &rarr;" not in third
    assert 'href="/agent/?page=2"' in third


def test_filter_by_state_uses_the_status_as_people_read_it(app, logged_in):
    client, agent = logged_in("agent")
    waiting = create_direct(app, agent.id, reference="WAIT-1")[0]
    lapsed = create_direct(app, agent.id, reference="LAPSED-1")[0]
    expire(app, lapsed)  # still "sent" in the table: reads as expired
    paid = create_direct(app, agent.id, reference="PAID-1")[0]
    update_request(app, paid, status="succeeded")
    revoked = create_direct(app, agent.id, reference="REV-1")[0]
    update_request(app, revoked, status="revoked")

    def shown(state):
        return set(_panel_ids(client.get(f"/agent/?state={state}").get_data(as_text=True)))

    assert shown("open") == {waiting}
    assert shown("expired") == {lapsed}
    assert shown("completed") == {paid}
    assert shown("stopped") == {revoked}
    assert shown("not_completed") == set()
    assert shown("nonsense") == {waiting, lapsed, paid, revoked}
    page = client.get("/agent/?state=not_completed").get_data(as_text=True)
    assert "No requests match" in page
    assert '<option value="not_completed" selected>' in page


def test_search_by_reference_or_request_id(app, logged_in, make_staff):
    client, agent = logged_in("agent")
    gas = create_direct(app, agent.id, reference="GAS-2024-17")[0]
    create_direct(app, agent.id, reference="WATER-88")
    other_agent = make_staff("agent")
    create_direct(app, other_agent.id, reference="GAS-2024-99")  # never anyone else's
    found = client.get("/agent/?q=gas-2024").get_data(as_text=True)
    assert _panel_ids(found) == [gas]
    assert 'value="gas-2024"' in found
    by_id = client.get(f"/agent/?q={gas.lower().replace('-', ' ')}").get_data(as_text=True)
    assert _panel_ids(by_id) == [gas]
    wildcard = client.get("/agent/?q=%25").get_data(as_text=True)
    assert _panel_ids(wildcard) == [], "a % is searched for, not a wildcard"


def test_the_pages_keep_the_filter(app, logged_in):
    client, agent = logged_in("agent")
    for n in range(12):
        create_direct(app, agent.id, reference=f"GAS-{n:03d}")
    create_direct(app, agent.id, reference="WATER-1")
    page = client.get("/agent/?state=open&q=gas").get_data(as_text=True)
    assert "Showing 1 to 10 of 12 matching" in page
    assert 'href="/agent/?state=open&amp;q=gas&amp;page=2"' in page
    assert 'data-poll-url="/agent/api/requests?state=open&amp;q=gas"' in page


def test_the_live_refresh_asks_for_the_same_list(app, logged_in):
    client, agent = logged_in("agent")
    gas = create_direct(app, agent.id, reference="GAS-1")[0]
    water = create_direct(app, agent.id, reference="WATER-1")[0]
    body = client.get("/agent/api/requests?q=gas").get_json()
    assert [panel["id"] for panel in body["mine"]] == [gas]
    assert body["shown"] == []
    everything = client.get("/agent/api/requests").get_json()
    assert [panel["id"] for panel in everything["mine"]] == [water, gas]


def test_a_panel_that_stops_matching_is_still_refreshed(app, logged_in, make_staff):
    client, agent = logged_in("agent")
    waiting = create_direct(app, agent.id, reference="WAIT-1")[0]
    update_request(app, waiting, status="succeeded")  # just finished, as the page shows it
    someone_else = create_direct(app, make_staff("agent").id, reference="NOT-MINE")[0]
    body = client.get(f"/agent/api/requests?state=open&shown={waiting},{someone_else}").get_json()
    assert body["mine"] == []
    assert [(panel["id"], panel["label"]) for panel in body["shown"]] == [(waiting, "Completed")], (
        "only requests the agent may see"
    )


def test_the_filter_is_read_forgivingly():
    assert ListFilter.from_args({"page": "-3", "state": "<b>", "q": "  a   b "}) == ListFilter(
        "", "a b", 1
    )
    assert ListFilter.from_args({"page": "two"}).page == 1
    assert len(ListFilter.from_args({"q": "x" * 500}).search) == 64
    assert ListFilter("open", "gas", 1).query(page=2) == "state=open&q=gas&page=2"
    assert ListFilter().query() == ""


def test_a_card_number_typed_as_a_search_is_refused_and_never_echoed(app, logged_in):
    client, agent = logged_in("agent")
    create_direct(app, agent.id, reference="GAS-1")
    page = client.get("/agent/?q=4242+4242+4242+4242").get_data(as_text=True)
    assert "That looks like a card number" in page
    assert not shows_card_digits(page)
    body = client.get("/agent/api/requests?q=4242424242424242").get_json()
    assert len(body["mine"]) == 1, "the search is dropped, not applied"
