"""Server-rendered bar charts: inline SVG, no JavaScript, with accessible names.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by a ``<desc>``
that reads out every bar, so a screen reader hears the figures. Pages put the same numbers in
a table beside the chart for anyone who prefers to read them.

Bars run across the page (horizontal), one row per label; a chart may have two series (for
example run A and run B), drawn as two thin bars per row with a key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 210
VALUE_WIDTH = 90
ROW_HEIGHT = 30
BAR_GAP = 8
#: GOV.UK blue and purple; both have at least 3:1 contrast against white.
SERIES_COLOURS = ("#1d70b8", "#912b88")
TEXT_COLOUR = "#0b0c0c"
GUIDE_COLOUR = "#b1b4b6"
_ids = count(1)


@dataclass(frozen=True, slots=True)
class Bar:
    """One row: its label and a value per series (None = no value)."""

    label: str
    values: tuple[float | None, ...]


def _text(value: float | None, fmt: Callable[[float], str], missing: str = "no value") -> str:
    return missing if value is None else fmt(value)


def bar_chart(
    title: str,
    bars: Sequence[Bar],
    *,
    value_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    series: Sequence[str] = (),
    max_value: float | None = None,
    marker: tuple[str, float] | None = None,
    missing: str = "no value",
    chart_id: str | None = None,
) -> Markup:
    """An SVG bar chart of ``bars``.

    ``series`` names the series when there are two or more (shown in a key). ``max_value``
    fixes the scale (e.g. 1.0 for shares); ``marker`` draws a labelled vertical line, such as
    ``("Pot", 500000)``. ``missing`` is what a bar without a value says (e.g. "hidden").
    ``chart_id`` fixes the SVG's id, so a page drawn twice is the same page (for its ETag);
    else ids are counted.
    """
    chart_id = chart_id or f"chart-{next(_ids)}"
    n_series = max((len(b.values) for b in bars), default=1)
    values = [v for b in bars for v in b.values if v is not None]
    top = max_value if max_value is not None else max([*values, 0.0])
    if marker is not None:
        top = max(top, marker[1])
    top = top or 1.0
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    key_height = 24 if len(series) > 1 else 0
    bar_height = (ROW_HEIGHT - BAR_GAP) / n_series
    height = key_height + len(bars) * ROW_HEIGHT + (18 if marker else 4)

    def scale(v: float) -> float:
        return max(0.0, min(1.0, v / top)) * plot

    parts: list[str] = []
    described: list[str] = []
    for i, bar in enumerate(bars):
        y0 = key_height + i * ROW_HEIGHT
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y0 + ROW_HEIGHT / 2 + 5:.1f}" text-anchor="end" '
            f'font-size="14" fill="{TEXT_COLOUR}">{escape(_clip(bar.label))}</text>'
        )
        readings = []
        for j, value in enumerate(bar.values):
            y = y0 + BAR_GAP / 2 + j * bar_height
            width = 0.0 if value is None else scale(value)
            colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{bar_height - 1:.1f}" fill="{colour}"></rect>'
            )
            parts.append(
                f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + bar_height / 2 + 4:.1f}" '
                f'font-size="13" fill="{TEXT_COLOUR}">'
                f"{escape(_text(value, value_format, missing))}</text>"
            )
            name = f"{series[j]}: " if len(series) > 1 and j < len(series) else ""
            readings.append(name + _text(value, value_format, missing))
        described.append(f"{bar.label}: {', '.join(readings)}")
    if marker is not None:
        x = LABEL_WIDTH + scale(marker[1])
        bottom = key_height + len(bars) * ROW_HEIGHT
        parts.append(
            f'<line x1="{x:.1f}" y1="{key_height}" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="{TEXT_COLOUR}" stroke-width="2" stroke-dasharray="4 3"></line>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" font-size="13" '
            f'fill="{TEXT_COLOUR}">{escape(marker[0])} {escape(value_format(marker[1]))}</text>'
        )
        described.append(f"{marker[0]}: {value_format(marker[1])}")
    if len(series) > 1:
        x = LABEL_WIDTH
        for j, name in enumerate(series):
            colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
            parts.append(f'<rect x="{x}" y="4" width="14" height="14" fill="{colour}"></rect>')
            parts.append(
                f'<text x="{x + 20}" y="16" font-size="13" fill="{TEXT_COLOUR}">'
                f"{escape(name)}</text>"
            )
            x += 40 + 8 * len(name)
    description = "; ".join(described) if described else "No figures."
    svg = (
        f'<svg class="app-chart" id="{chart_id}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
        f'<line x1="{LABEL_WIDTH}" y1="{key_height}" x2="{LABEL_WIDTH}" '
        f'y2="{key_height + len(bars) * ROW_HEIGHT}" stroke="{GUIDE_COLOUR}"></line>'
        f"{''.join(parts)}</svg>"
    )
    return Markup(svg)


def _clip(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def pounds(pence: float) -> str:
    whole, rest = divmod(int(round(pence)), 100)
    return f"£{whole:,}" if rest == 0 else f"£{whole:,}.{rest:02d}"
