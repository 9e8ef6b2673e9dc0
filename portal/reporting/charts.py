"""Bar charts drawn on the server as SVG geometry: no script, no style attribute, no library.

Functions here return plain data (rectangles, lines, text positions); the template
``backoffice/_chart.html`` turns it into inline ``<svg>`` markup using presentation attributes
and classes from app.css, which the strict CSP allows. Every chart has a title and a
description for screen readers, and the page shows the same numbers as a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    #: What a pointer hover (SVG <title>) says about the bar.
    label: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"
    css: str = "chart-label"


@dataclass(frozen=True)
class Gridline:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    title: str
    description: str
    bars: list[Bar] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    gridlines: list[Gridline] = field(default_factory=list)
    #: (css class, words) for the legend drawn below the chart in HTML.
    legend: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Series:
    name: str
    css: str
    values: Sequence[float]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^n that is >= ``value`` (1 for nothing at all)."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:,.0f}"


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    width: int = 640,
    height: int = 240,
) -> Chart:
    """Vertical bars, one group per category, one bar per series, with a value axis."""
    left, right, top, bottom = 40, 10, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(max((v for s in series for v in s.values), default=0))
    bars, texts, grid = [], [], []
    for tick in range(5):
        value = top_value * tick / 4
        y = top + plot_h - plot_h * tick / 4
        grid.append(Gridline(left, y, width - right, y))
        texts.append(Text(left - 6, y + 4, _number(value), anchor="end", css="chart-axis"))
    slot = plot_w / max(len(categories), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    for i, category in enumerate(categories):
        x0 = left + slot * i + slot * 0.1
        for j, one in enumerate(series):
            value = one.values[i]
            bar_h = plot_h * value / top_value
            bars.append(
                Bar(
                    round(x0 + bar_w * j, 2),
                    round(top + plot_h - bar_h, 2),
                    round(bar_w * 0.92, 2),
                    round(bar_h, 2),
                    one.css,
                    f"{category}: {_number(value)} {one.name.lower()}",
                )
            )
        texts.append(Text(round(left + slot * (i + 0.5), 2), height - 10, category))
    return Chart(
        width,
        height,
        title,
        description,
        bars,
        texts,
        grid,
        legend=[(one.css, one.name) for one in series],
    )


def horizontal_bars(
    items: Sequence[tuple[str, float, str]],
    *,
    title: str,
    description: str,
    max_value: float | None = None,
    css: str = "chart-bar-a",
    width: int = 640,
    row_height: int = 26,
) -> Chart:
    """One horizontal bar per ``(label, value, value as words)``, longest = ``max_value``."""
    label_w, value_w, pad = 150, 70, 4
    plot_w = width - label_w - value_w
    top_value = max_value or nice_ceiling(max((value for _, value, _ in items), default=0))
    height = max(row_height * len(items), row_height) + 2 * pad
    bars, texts = [], []
    for i, (label, value, words) in enumerate(items):
        y = pad + row_height * i
        bar_w = plot_w * min(value / top_value, 1) if top_value else 0
        bars.append(Bar(label_w, y + 4, round(bar_w, 2), row_height - 8, css, f"{label}: {words}"))
        texts.append(Text(label_w - 6, y + row_height / 2 + 4, _clip(label), anchor="end"))
        texts.append(Text(round(label_w + bar_w + 6, 2), y + row_height / 2 + 4, words, "start"))
    return Chart(width, height, title, description, bars, texts)


def _clip(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"
