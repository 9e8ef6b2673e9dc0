"""The back-office dashboard: today's and this week's figures, conversion, median time to pay,
per day, agent and team; supervisors see their team's; charts are script-free SVG with tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.backoffice_read import Req, seed
from tests.support.web import login

LONDON = ZoneInfo("Europe/London")
# Wednesday 11 March 2026, noon (GMT): the week began on Monday the 9th.
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


@pytest.fixture
def page_clock_at_noon(monkeypatch):
    """The page's "now" is NOW: rows seeded seconds before it are today's and this week's
    whenever the test runs (at the real clock, a run just after London's midnight, or Monday's,
    would find them in yesterday or last week)."""
    monkeypatch.setattr("portal.backoffice.dashboard.utcnow", lambda: NOW)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def seed_week(app, nora, sam):
    north, south = (nora.id, nora.team_id), (sam.id, sam.team_id)
    minutes = timedelta(minutes=1)
    seed(
        app,
        [
            Req(1, at(11, 11), *north, status="succeeded", paid_after=2 * minutes),
            Req(2, at(11, 10), *south),
            Req(3, at(11, 9), *north, kind="data"),
            Req(4, at(9, 10), *north, status="succeeded", paid_after=10 * minutes),
            Req(5, at(8, 10), *south, status="succeeded", paid_after=4 * minutes),
            Req(6, at(1, 10), *north, status="succeeded", paid_after=minutes),
            Req(7, NOW + timedelta(minutes=30), *north),  # after "now": not counted
        ],
    )


def board_for(app, username: str):
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.reporting.stats import build_dashboard

    with app.app_context():
        user = db.session.query(StaffUser).filter_by(username=username).one()
        return build_dashboard(user, NOW, LONDON)


def test_the_figures_for_today_the_week_each_day_agent_and_team(app, make_staff):
    nora = make_staff("agent", username="nora", team="North")
    sam = make_staff("agent", username="sam", team="South")
    seed_week(app, nora, sam)
    make_staff("backoffice", username="boss")
    board = board_for(app, "boss")

    today = board.today_tally
    assert (today.created, today.payment_sent, today.paid) == (3, 2, 1)
    assert today.conversion == 0.5 and today.median_seconds == 120
    week = board.week_tally
    assert (week.created, week.payment_sent, week.paid) == (4, 3, 2)
    assert week.median_seconds == 360  # the middle of 2 and 10 minutes

    days = {day.isoformat(): tally for day, tally in board.days}
    assert list(days) == [f"2026-03-{d:02d}" for d in range(5, 12)]
    assert (days["2026-03-08"].paid, days["2026-03-09"].paid, days["2026-03-11"].created) == (
        1,
        1,
        3,
    )
    assert days["2026-03-05"].created == 0

    agents = {name: (t.created, t.payment_sent, t.paid) for name, t in board.by_agent}
    assert agents == {"nora": (3, 2, 2), "sam": (1, 1, 0)}
    assert [name for name, _ in board.by_team] == ["North", "South"]


def test_supervisors_get_their_teams_figures_only(app, make_staff):
    nora = make_staff("agent", username="nora", team="North")
    sam = make_staff("agent", username="sam", team="South")
    seed_week(app, nora, sam)
    make_staff("supervisor", username="sue", team="South")
    board = board_for(app, "sue")
    assert board.today_tally.created == 1
    assert [name for name, _ in board.by_agent] == ["sam"]
    assert [name for name, _ in board.by_team] == ["South"]


def test_the_page_draws_accessible_svg_charts_without_script_or_style(
    app, make_staff, page_clock_at_noon
):
    nora = make_staff("agent", username="nora", team="North")
    now = NOW
    seed(
        app,
        [
            Req(
                1,
                now - timedelta(seconds=5),
                nora.id,
                nora.team_id,
                status="succeeded",
                paid_after=timedelta(seconds=3),
            ),
            Req(2, now - timedelta(seconds=4), nora.id, nora.team_id),
        ],
    )
    user = make_staff("auditor")
    client = app.test_client()
    login(client, user)
    response = client.get("/backoffice/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    assert html.count('<svg class="chart"') == 2
    assert 'role="img" aria-labelledby="chart-days-title chart-days-desc"' in html
    assert (
        '<title id="chart-days-title">Payment requests sent and paid, last 7 days</title>' in html
    )
    assert re.search(r'<rect class="chart-bar-b" [^>]+><title>[^<]+: 1 paid</title>', html)
    # The same numbers as tables, for screen readers and anyone who prefers them.
    assert "<caption>Requests per day, last 7 days</caption>" in html
    assert re.search(r'<th scope="row">nora</th>\s*<td class="numeric">2</td>', html)
    assert "50%" in html
    # Strict CSP: nothing inline.
    assert "style=" not in html and "<script" not in html


def test_a_refunded_payment_is_not_counted_as_paid_and_the_net_is_shown(
    app, make_staff, page_clock_at_noon
):
    """Four paid today: one refunded in full (refunded, not paid), one partly refunded (paid,
    net less the refund), one with an open dispute for all of it (disputed, nothing kept) and
    one untouched; a refund that failed gives nothing back."""
    from tests.functional.payment_standing_support import add_dispute, add_refund

    nora = make_staff("agent", username="nora", team="North")
    clerk = make_staff("backoffice", username="clerk")
    now = NOW
    paid = {"status": "succeeded", "paid_after": timedelta(seconds=3)}
    seed(
        app,
        [
            Req(n, now - timedelta(seconds=10 + n), nora.id, nora.team_id, **paid)
            for n in range(1, 5)
        ],
    )
    add_refund(app, "R000000001", 1250, "succeeded", clerk.id)
    add_refund(app, "R000000002", 250, "succeeded", clerk.id)
    add_refund(app, "R000000002", 1000, "failed", clerk.id)
    add_dispute(app, "R000000003", 1250, "needs_response")
    client = app.test_client()
    login(client, make_staff("auditor"))
    html = client.get("/backoffice/").get_data(as_text=True)

    def card_figure(testid: str) -> str:
        # The first card is today's.
        return re.search(rf'data-testid="{testid}">([^<]*)<', html).group(1)

    assert card_figure("paid-count") == "2"
    assert card_figure("refunded-count") == "1"
    assert card_figure("disputed-count") == "1"
    assert card_figure("net-kept") == "£22.50"  # 12.50 - 2.50 + 12.50
    assert "one refunded in full counts as refunded, not paid" in html
