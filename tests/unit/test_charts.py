"""The reports' charts: real SVG plots, the same bytes for the same data, and a clear
refusal where no font can draw Chinese."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from ledger.entrypoints import charts

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine whose fonts are none of the CJK families the charts look for."""
    charts.cjk_font.cache_clear()
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such CJK Family",))
    yield
    charts.cjk_font.cache_clear()


def series() -> dict[str, tuple[list[datetime], list[float | None]]]:
    days = [datetime(2026, 9, 1, tzinfo=UTC) + timedelta(days=n) for n in range(10)]
    return {
        "O型 RhD阳性": (days, [4.0, 3.5, 2.5, None, 1.5, 0.5, 2.0, 3.0, 6.0, 40.0]),
        "A型 RhD阳性": (days, [2.0] * 10),
    }


BANDS = [
    charts.Band(0, 1, charts.ALERT_COLOURS["RED"], "红色预警"),
    charts.Band(1, 2, charts.ALERT_COLOURS["ORANGE"], "橙色预警"),
    charts.Band(2, 3, charts.ALERT_COLOURS["YELLOW"], "黄色预警"),
]


def test_a_time_series_is_an_svg_with_its_lines_and_bands() -> None:
    svg = charts.time_series(series(), BANDS, title="可供应天数", axis="天", chinese=True)
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert sum(1 for _ in root.iter(f"{SVG}path")) > 30  # axes, ticks, lines, bands, glyphs
    for colour in ("#d9302c", "#f08c00", "#f2c500"):  # the three alert bands
        assert colour.encode() in svg
    assert b"<text" not in svg  # text drawn as outlines: the same in any viewer
    assert sum(1 for _ in root.iter(f"{SVG}use")) > 20  # ...each glyph placed


def test_the_same_data_draws_the_same_bytes() -> None:
    first = charts.bar_chart(["红细胞", "血浆"], [64.71, None], title="t", axis="%", chinese=True)
    again = charts.bar_chart(["红细胞", "血浆"], [64.71, None], title="t", axis="%", chinese=True)
    assert first == again
    other = charts.bar_chart(["红细胞", "血浆"], [64.72, None], title="t", axis="%", chinese=True)
    assert other != first


def test_an_svg_is_embedded_as_a_data_uri() -> None:
    svg = charts.histogram([1.0, 2.0, 9.0], title="t", axis="h", count_axis="n", chinese=False)
    uri = charts.data_uri(svg)
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == svg


@pytest.mark.usefixtures("no_cjk_font")
def test_without_a_cjk_font_chinese_is_refused_and_says_what_to_install() -> None:
    with pytest.raises(charts.MissingCjkFont, match="fonts-noto-cjk"):
        charts.bar_chart(["红细胞"], [1.0], title="t", axis="%", chinese=True)
    english = charts.bar_chart(["Red cells"], [1.0], title="t", axis="%", chinese=False)
    assert ElementTree.fromstring(english).tag == f"{SVG}svg"  # English still draws
