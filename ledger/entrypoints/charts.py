"""The reports' charts: matplotlib plots as SVG, for the HTML and the PDF alike.

Plots are drawn with matplotlib's object API on the Agg-free SVG canvas (no pyplot,
no global figure state), under one lock: a server rendering reports in several
threads draws one chart at a time, since matplotlib's settings are process-wide.
Text is written as glyph outlines (``svg.fonttype = path``), so a chart shows the
same in a browser and in WeasyPrint's PDF whatever fonts the reader has.

Chinese labels need a CJK font: Noto Sans CJK SC (Debian's ``fonts-noto-cjk``) or
another Simplified Chinese face matplotlib's font manager knows (:func:`cjk_font`).
Without one a Chinese report fails with a message saying what to install, rather
than drawing empty boxes.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "Band",
    "CjkFont",
    "MissingCjkFont",
    "bar_chart",
    "cjk_font",
    "data_uri",
    "histogram",
    "stacked_bar_chart",
    "time_series",
]

#: Font families tried for Chinese text, best first (Simplified Chinese faces).
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
)
#: The colours of the alert levels (the dashboard's): yellow, orange, red, centre emergency.
ALERT_COLOURS = {
    "YELLOW": "#f2c500",
    "ORANGE": "#f08c00",
    "RED": "#d9302c",
    "EMERGENCY": "#b00020",
    "GREEN": "#2e9d4c",
}
#: A palette that stays distinct in print (Okabe-Ito, colour-blind safe).
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
)  # fmt: skip

_LOCK = threading.Lock()


class MissingCjkFont(RuntimeError):
    """No font that can draw Simplified Chinese is installed."""


@dataclass(frozen=True)
class CjkFont:
    """A font with Simplified Chinese glyphs: its family name and file (a ``.ttc``
    collection or a single face)."""

    family: str
    path: Path


@functools.cache
def cjk_font() -> CjkFont:
    """The best installed CJK font (:data:`CJK_FAMILIES` order), found once."""
    known = {f.name: Path(f.fname) for f in font_manager.fontManager.ttflist if f.weight == 400}
    known |= {
        f.name: Path(f.fname) for f in font_manager.fontManager.ttflist if f.name not in known
    }
    for family in CJK_FAMILIES:
        if family in known:
            return CjkFont(family, known[family])
    raise MissingCjkFont(
        "no font with Chinese glyphs is installed, so a Chinese report cannot be drawn: "
        "install Noto Sans CJK (Debian: apt-get install fonts-noto-cjk) or another "
        f"Simplified Chinese font ({', '.join(CJK_FAMILIES[:3])})"
    )


def _families(chinese: bool) -> list[str]:
    """The font families a chart's text is drawn in; for Chinese a CJK one is required."""
    if chinese:
        return ["DejaVu Sans", cjk_font().family]
    try:
        return ["DejaVu Sans", cjk_font().family]
    except MissingCjkFont:
        return ["DejaVu Sans"]


def _settings(chinese: bool) -> Any:
    return {
        "font.family": _families(chinese),
        "font.size": 9,
        "svg.fonttype": "path",
        "svg.hashsalt": "bloodledger",  # the same chart is the same SVG, byte for byte
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": False,
    }


def _draw(chinese: bool, width: float, height: float, paint: Callable[[Figure], None]) -> bytes:
    """A figure of ``width`` x ``height`` inches painted by ``paint``, as SVG bytes."""
    with _LOCK, matplotlib.rc_context(_settings(chinese)):
        figure = Figure(figsize=(width, height), layout="constrained")
        paint(figure)
        out = io.BytesIO()
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        return out.getvalue()


def data_uri(svg: bytes) -> str:
    """An SVG as an ``<img src>`` the HTML and the PDF embed (nothing fetched)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    axis: str,
    chinese: bool,
    limit: float | None = None,
) -> bytes:
    """Horizontal bars, one per label, each with its value written at its end as the
    report's tables write it (at most 2 decimals; a missing value: no bar, "—")."""

    def paint(figure: Figure) -> None:
        ax = figure.add_subplot()
        shown = [0.0 if v is None else v for v in values]
        places = list(range(len(labels)))
        ax.barh(places, shown, color=[PALETTE[i % len(PALETTE)] for i in places])
        ax.set_yticks(places, labels=list(labels))
        ax.invert_yaxis()
        ax.set_xlabel(axis)
        ax.set_title(title, loc="left")
        top = limit if limit is not None else max([*shown, 1.0]) * 1.15
        ax.set_xlim(0, top)
        for place, value in zip(places, values, strict=True):
            text = "—" if value is None else f"{value:.2f}".rstrip("0").rstrip(".")
            ax.text(min(value or 0.0, top), place, f" {text}", va="center")

    return _draw(chinese, 7.0, 0.45 * len(labels) + 1.2, paint)


def stacked_bar_chart(
    labels: Sequence[str],
    stacks: Mapping[str, Sequence[int]],
    *,
    title: str,
    axis: str,
    chinese: bool,
    colours: Sequence[str] = PALETTE,
) -> bytes:
    """Vertical bars, one per label, stacked by series (a legend names the series)."""

    def paint(figure: Figure) -> None:
        ax = figure.add_subplot()
        places = list(range(len(labels)))
        bottom = [0] * len(labels)
        for index, (series, counts) in enumerate(stacks.items()):
            ax.bar(places, counts, bottom=bottom, label=series, color=colours[index % len(colours)])
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.set_xticks(places, labels=list(labels), rotation=30, ha="right")
        ax.set_ylabel(axis)
        ax.set_title(title, loc="left")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if labels:
            ax.legend(frameon=False, fontsize=8)

    return _draw(chinese, 7.0, 3.4, paint)


def histogram(
    values: Sequence[float], *, title: str, axis: str, count_axis: str, chinese: bool
) -> bytes:
    """How many values fall in each bin (about √n bins, at least 5)."""

    def paint(figure: Figure) -> None:
        ax = figure.add_subplot()
        bins = max(5, math.ceil(math.sqrt(len(values)))) if values else 5
        ax.hist(list(values), bins=bins, color=PALETTE[0], edgecolor="white")
        ax.set_xlabel(axis)
        ax.set_ylabel(count_axis)
        ax.set_title(title, loc="left")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    return _draw(chinese, 7.0, 3.0, paint)


@dataclass(frozen=True)
class Band:
    """A horizontal band of a time series' background: an alert level's range."""

    low: float
    high: float
    colour: str
    label: str


def time_series(
    series: Mapping[str, tuple[Sequence[datetime], Sequence[float | None]]],
    bands: Sequence[Band],
    *,
    title: str,
    axis: str,
    chinese: bool,
) -> bytes:
    """Lines over time (a missing value breaks its line) over coloured bands. The
    value axis shows up to four times the highest band, so one group with a year's
    stock does not flatten the others against the thresholds."""

    def paint(figure: Figure) -> None:
        ax = figure.add_subplot()
        ceiling = max((b.high for b in bands), default=1.0)
        seen = [v for _, values in series.values() for v in values if v is not None]
        top = max(ceiling * 1.5, min(max(seen, default=0.0), ceiling * 4)) * 1.05
        for band in bands:
            ax.axhspan(band.low, band.high, color=band.colour, alpha=0.18, lw=0, label=band.label)
        for index, (name, (moments, values)) in enumerate(series.items()):
            shown = [math.nan if v is None else min(v, top) for v in values]
            ax.plot(
                cast(Any, list(moments)),
                shown,
                label=name,
                color=PALETTE[index % len(PALETTE)],
                lw=1.4,
                marker="o" if len(moments) <= 31 else None,
                ms=2.5,
            )
        ax.set_ylim(0, top)
        ax.set_ylabel(axis)
        ax.set_title(title, loc="left")
        figure.autofmt_xdate()
        ax.legend(frameon=False, fontsize=7, ncol=4, loc="upper left", bbox_to_anchor=(0, -0.18))

    return _draw(chinese, 7.0, 3.6, paint)
