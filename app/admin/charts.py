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
    if not any(counts.values()):
        return Chart(WIDTH, HEIGHT, [], 0)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    peak = max(counts.values())
    slot = WIDTH / max(len(days), 7)  # a day or two: narrow bars, not a wall
    plot = HEIGHT - LABEL
    bars = []
    for i, day in enumerate(days):
        value = counts.get(day, 0)
        height = plot * value / peak if peak else 0
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.1, 1),
                y=round(plot - height, 1),
                width=round(slot * 0.8, 1),
                height=round(height, 1),
                label=day.strftime("%m-%d"),
                value=value,
            )
        )
    return Chart(WIDTH, HEIGHT, bars, peak)
