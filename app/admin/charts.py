"""Charts drawn on the server as SVG shapes (no chart library, no script): the template turns
a Chart's bars into <rect> elements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

WIDTH, HEIGHT, LABEL = 640, 160, 18


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    peak: int


def bar_chart(per_day: list[tuple[date, int]], first: date, last: date) -> Chart:
    """One bar per day from `first` to `last` (days without orders are empty slots, so the
    time axis is honest)."""
    counts = dict(per_day)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return labelled_chart([(day.strftime("%m-%d"), counts.get(day, 0)) for day in days])


def labelled_chart(values: list[tuple[str, int]]) -> Chart:
    """One bar per (label, value), scaled to the highest; no bars when every value is 0."""
    if not any(value for _, value in values):
        return Chart(WIDTH, HEIGHT, [], 0)
    peak = max(value for _, value in values)
    slot = WIDTH / max(len(values), 7)  # a few values: narrow bars, not a wall
    plot = HEIGHT - LABEL
    bars = []
    for i, (label, value) in enumerate(values):
        height = plot * value / peak
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.1, 1),
                y=round(plot - height, 1),
                width=round(slot * 0.8, 1),
                height=round(height, 1),
                label=label,
                value=value,
            )
        )
    return Chart(WIDTH, HEIGHT, bars, peak)
