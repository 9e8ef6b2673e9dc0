"""Server-drawn SVG bar charts: geometry only, scaled to a round axis maximum."""

from __future__ import annotations

import pytest

from portal.reporting import charts


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (480, 500), (0.4, 0.5)]
)
def test_nice_ceilings(value, ceiling):
    assert charts.nice_ceiling(value) == pytest.approx(ceiling)


def test_grouped_bars_scale_to_the_plot_and_label_every_bar():
    chart = charts.grouped_bars(
        ["Mon", "Tue"],
        [charts.Series("Sent", "a", [4, 10]), charts.Series("Paid", "b", [2, 0])],
        title="t",
        description="d",
        width=200,
        height=140,
    )
    assert len(chart.bars) == 4
    tallest = max(chart.bars, key=lambda bar: bar.height)
    assert tallest.label == "Tue: 10 sent"
    assert tallest.y == 10 and tallest.height == 100  # top margin 10, plot height 100
    zero = next(bar for bar in chart.bars if bar.label == "Tue: 0 paid")
    assert zero.height == 0
    assert [text.text for text in chart.texts if text.css == "chart-axis"] == [
        "0",
        "2.5",
        "5",
        "7.5",
        "10",
    ]
    assert chart.legend == [("a", "Sent"), ("b", "Paid")]
    assert all(bar.x + bar.width <= 200 for bar in chart.bars)


def test_horizontal_bars_are_proportional_and_clipped_to_the_maximum():
    chart = charts.horizontal_bars(
        [("North", 0.5, "50%"), ("South", 1.0, "100%"), ("A very long team name indeed", 2.0, "x")],
        max_value=1.0,
        title="t",
        description="d",
        width=720,
    )
    widths = [bar.width for bar in chart.bars]
    assert widths[1] == 2 * widths[0] == 500
    assert widths[2] == widths[1]  # never beyond the plot
    assert any(text.text.endswith("\u2026") for text in chart.texts)


def test_an_empty_chart_still_draws():
    chart = charts.grouped_bars([], [], title="t", description="d")
    assert chart.bars == [] and chart.gridlines
