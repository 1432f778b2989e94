"""Charts drawn on the server as SVG: no JavaScript, nothing loaded from outside (the dashboard must work
with no internet, issue 12 item 7), and the Content-Security-Policy stays strict — only presentation
attributes (fill, x, width), never a style attribute or element. The table beside each chart carries
the same numbers, so the page reads the same with images off or in a screen reader.

A chart is a horizontal bar chart: one group of bars per row label, one bar per series (a period).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

__all__ = ["SERIES_COLOURS", "Series", "bar_chart"]

# Red Cross red for the first period, a slate grey for the one it is compared with (both ≥ 4.5:1 on white).
SERIES_COLOURS = ("#c8102e", "#57606a")


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | int | None]


def _format(value: float | int) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def bar_chart(*, title: str, labels: list[str], series: list[Series], chart_id: str) -> Markup:
    """An accessible SVG (role=img, a <title>) with bars proportional to the values and each value
    written at the end of its bar; a missing value draws no bar and writes "–"."""
    label_width, bar_height, gap, width = 190, 16, 10, 760
    plot = width - label_width - 70
    numbers = [v for s in series for v in s.values if v is not None]
    top = max(numbers, default=0) or 1
    group = bar_height * len(series) + gap
    legend = 24 if len(series) > 1 else 0
    height = legend + group * len(labels) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id={quoteattr(chart_id)} role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f"aria-labelledby={quoteattr(chart_id + '-title')}>",
        f"<title id={quoteattr(chart_id + '-title')}>{escape(title)}</title>",
    ]
    if len(series) > 1:
        x = label_width
        for index, one in enumerate(series):
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>')
            parts.append(f'<text x="{x + 18}" y="15" font-size="13" fill="#1f2328">{escape(one.name)}</text>')
            x += 30 + 8 * len(one.name)
    for row, label in enumerate(labels):
        y0 = legend + gap + row * group
        parts.append(
            f'<text x="{label_width - 8}" y="{y0 + bar_height * len(series) / 2 + 5:.0f}" '
            f'text-anchor="end" font-size="13" fill="#1f2328">{escape(label)}</text>'
        )
        for index, one in enumerate(series):
            value = one.values[row]
            y = y0 + index * bar_height
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            length = 0.0 if value is None else max(1.0, plot * value / top) if value > 0 else 0.0
            if length:
                parts.append(
                    f'<rect class="bar" x="{label_width}" y="{y + 1}" width="{length:.1f}" '
                    f'height="{bar_height - 2}" fill="{colour}" data-value="{value}"/>'
                )
            shown = "–" if value is None else _format(value)
            parts.append(
                f'<text x="{label_width + length + 6:.1f}" y="{y + bar_height - 4}" font-size="12" '
                f'fill="#1f2328">{escape(shown)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
