"""Server-rendered SVG charts for the console (bars, lines and a rate meter), built as text
with every label escaped. Each chart is an <svg role="img"> with an aria-label and a <title>;
the page always shows the same numbers as a table or text next to it. Colours come from
console.css classes (the console's CSP allows no inline styles; SVG attributes are fine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Drawing area inside the viewBox (left margin for the value axis, bottom for the labels).
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 34
MAX_SERIES_CLASSES = 6  # console.css defines .series-0 … .series-5
LABEL_WIDTH = 44  # room one category label needs under the axis (viewBox units)


@dataclass(frozen=True)
class Series:
    """One named row of values, drawn in the colour class series-{index % 6}."""

    name: str
    values: Sequence[float]


def _num(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _nice_max(value: float) -> float:
    """A round top for the value axis (1, 2, 5 × 10^n) at or above value."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _frame(label: str, width: int, height: int, body: list[str]) -> Markup:
    text = escape(label)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{text}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{text}</title>{''.join(body)}</svg>"
    )


def _axes(width: int, height: int, top_value: float, unit: str) -> list[str]:
    bottom = height - BOTTOM
    out = [
        f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{width - RIGHT}" y2="{bottom}"/>',
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{width - RIGHT}" y2="{TOP}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">'
        f"{escape(_num(top_value) + unit)}</text>",
        f'<text class="tick" x="{LEFT - 4}" y="{bottom}" text-anchor="end">0</text>',
    ]
    return out


def _category_labels(categories: Sequence[str], width: int, height: int) -> list[str]:
    """Every category's label under the axis, thinned so they never overlap."""
    n = len(categories)
    if not n:
        return []
    slot = (width - LEFT - RIGHT) / n
    every = max(1, math.ceil(LABEL_WIDTH / max(slot, 1.0)))
    out = []
    for i, name in enumerate(categories):
        if i % every and i != n - 1:
            continue
        x = LEFT + slot * (i + 0.5)
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{height - BOTTOM + 16}" '
            f'text-anchor="middle">{escape(name)}</text>'
        )
    return out


def bar_chart(
    label: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 640,
    height: int = 220,
    unit: str = "",
) -> Markup:
    """Stacked bars, one column per category, one segment per series."""
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top_value = _nice_max(max(totals, default=0))
    bottom = height - BOTTOM
    scale = (bottom - TOP) / top_value
    slot = (width - LEFT - RIGHT) / max(len(categories), 1)
    bar = max(slot * 0.7, 1.0)
    body = _axes(width, height, top_value, unit)
    for i, name in enumerate(categories):
        y = float(bottom)
        x = LEFT + slot * i + (slot - bar) / 2
        for k, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            h = value * scale
            y -= h
            tip = escape(f"{name} {s.name}：{_num(value)}{unit}")
            body.append(
                f'<rect class="series-{k % MAX_SERIES_CLASSES}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}"><title>{tip}</title></rect>'
            )
    body += _category_labels(categories, width, height)
    return _frame(label, width, height, body)


def line_chart(
    label: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 640,
    height: int = 220,
    unit: str = "",
) -> Markup:
    """One polyline per series over the categories, with a dot on every point."""
    top_value = _nice_max(max((v for s in series for v in s.values), default=0))
    bottom = height - BOTTOM
    scale = (bottom - TOP) / top_value
    slot = (width - LEFT - RIGHT) / max(len(categories), 1)
    body = _axes(width, height, top_value, unit)
    for k, s in enumerate(series):
        css = f"series-{k % MAX_SERIES_CLASSES}"
        points = [
            (LEFT + slot * (i + 0.5), bottom - max(v, 0) * scale) for i, v in enumerate(s.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f'<polyline class="line {css}" points="{path}"/>')
        for (x, y), name, value in zip(points, categories, s.values, strict=False):
            tip = escape(f"{name} {s.name}：{_num(value)}{unit}")
            body.append(
                f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{tip}</title></circle>"
            )
    body += _category_labels(categories, width, height)
    return _frame(label, width, height, body)


def meter(label: str, rate: float | None, target: float | None = None) -> Markup:
    """A horizontal 0–100 % bar for a rate, with the target as a marked line; the bar is
    green at or above the target and red below it (neutral without a target)."""
    width, height, left, right = 320, 40, 4, 4
    span = width - left - right
    body = [f'<rect class="meter-track" x="{left}" y="8" width="{span}" height="16"/>']
    if rate is not None:
        css = "meter-bar" if target is None else ("meter-ok" if rate >= target else "meter-bad")
        body.append(
            f'<rect class="{css}" x="{left}" y="8" width="{span * min(max(rate, 0), 1):.1f}" '
            f'height="16"/>'
        )
    if target is not None:
        x = left + span * target
        body.append(f'<line class="meter-target" x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="30"/>')
        body.append(
            f'<text class="tick" x="{x:.1f}" y="39" text-anchor="middle">'
            f"{escape(f'目标 {target:.0%}')}</text>"
        )
    return _frame(label, width, height, body)
