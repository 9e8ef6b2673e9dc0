"""Back office home: the dashboard (today, this week, per day, per agent, per team).

A payment refunded in full is not counted as paid: it is counted as refunded, and the net
(money kept after refunds and disputes, per currency) is shown beside the counts.
"""

from __future__ import annotations

from flask import g, render_template

from portal.backoffice.display import duration_words, operator_zone
from portal.backoffice.views import bp
from portal.models.types import utcnow
from portal.money import format_amount
from portal.reporting import charts, queries
from portal.reporting.stats import Dashboard, Tally, build_dashboard

#: Agents listed on the dashboard (busiest first); the transactions list has everyone.
MAX_AGENTS = 50


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def _day_chart(board: Dashboard) -> charts.Chart:
    labels = [day.strftime("%a %d") for day, _ in board.days]
    return charts.grouped_bars(
        labels,
        [
            charts.Series("Sent", "chart-bar-a", [t.payment_sent for _, t in board.days]),
            charts.Series("Paid", "chart-bar-b", [t.paid for _, t in board.days]),
        ],
        title="Payment requests sent and paid, last 7 days",
        description="Bar chart; the same numbers are in the table below it.",
    )


def _team_chart(board: Dashboard) -> charts.Chart:
    items = [
        (name, tally.conversion or 0.0, percent(tally.conversion) or "nothing sent")
        for name, tally in board.by_team
    ]
    return charts.horizontal_bars(
        items,
        max_value=1.0,
        title="Conversion from sent to paid by team, this week",
        description="Bar chart; the same numbers are in the table below it.",
    )


def net_words(net: dict[str, int]) -> str:
    """Money kept, per currency: "£1,234.50" or "£20.00 and €5.00"; "" when nothing."""
    return " and ".join(format_amount(minor, currency) for currency, minor in sorted(net.items()))


def tally_row(name: str, tally: Tally) -> dict:
    return {
        "name": name,
        "created": tally.created,
        "sent": tally.payment_sent,
        "paid": tally.paid,
        "refunded": tally.refunded,
        "disputed": tally.disputed,
        "net": net_words(tally.net),
        "conversion": percent(tally.conversion),
        "median": duration_words(tally.median_seconds),
    }


@bp.get("/")
def home():
    user = g.staff_user
    board = build_dashboard(user, utcnow(), operator_zone())
    return render_template(
        "backoffice/home.html",
        board=board,
        today=tally_row("Today", board.today_tally),
        week=tally_row("This week", board.week_tally),
        days=[tally_row(day.strftime("%a %d %b"), tally) for day, tally in board.days],
        agents=[tally_row(name, tally) for name, tally in board.by_agent[:MAX_AGENTS]],
        more_agents=max(len(board.by_agent) - MAX_AGENTS, 0),
        teams=[tally_row(name, tally) for name, tally in board.by_team],
        day_chart=_day_chart(board),
        team_chart=_team_chart(board) if board.by_team else None,
        team_only=not queries.sees_everything(user),
    )
