"""The quality, hemovigilance and inventory reports: their documents and renderings.

Two public functions, for the ``bloodledger report`` command and the ``/reports``
page alike:

- :func:`report_document` asks the use case (:mod:`ledger.services.quality`) over a
  store's read models for one facility and window, and answers the report's JSON
  document — every number the report shows, and nothing else;
- :func:`render_report` renders a document as JSON, HTML or PDF in Simplified Chinese
  or English: templates in ``templates/reports/``, every word from the ``reports``
  catalog (the codes' words from :mod:`.glossary`, shared with the pages), charts drawn
  by :mod:`.charts` and
  embedded as SVG, the PDF made by WeasyPrint with the CJK font embedded.

The HTML and the PDF are rendered from the same template and the same document as
the JSON, so the three formats cannot show different numbers. Times are UTC,
written in the language's format.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal

from ledger.domain.indicators import Measure, Status
from ledger.domain.instants import iso
from ledger.domain.inventory import AlertPolicy
from ledger.domain.vocabulary import Component, ReactionCategory, Severity
from ledger.entrypoints import charts
from ledger.entrypoints.glossary import Words
from ledger.entrypoints.i18n import environment, format_instant, language, translations
from ledger.services.ports import first_line
from ledger.services.quality import (
    HemovigilanceReport,
    InventoryReport,
    Progress,
    QcReport,
    QualityReports,
    ReportWindow,
)
from projections.usage import UsageIndex

if TYPE_CHECKING:
    from babel.support import Translations

    from projections.ports import ReadModelStore

__all__ = [
    "FORMATS",
    "KINDS",
    "MEDIA_TYPES",
    "PdfUnavailable",
    "render_report",
    "report_document",
]

#: The reports there are, by the name the command and the page use.
KINDS: tuple[str, ...] = ("qc", "hemovigilance", "inventory")
#: The formats a report renders to, and their media types.
MEDIA_TYPES: Mapping[str, str] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}
FORMATS: tuple[str, ...] = tuple(MEDIA_TYPES)
#: The catalog domain of the reports' words.
DOMAIN = "reports"
TEMPLATES = Path(__file__).resolve().parent / "templates" / "reports"


def report_document(
    kind: str,
    view: ReadModelStore,
    facility: str,
    start: datetime,
    end: datetime,
    *,
    policy: AlertPolicy | None = None,
    step: timedelta = timedelta(days=1),
    progress: Progress | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The ``kind`` report of ``facility`` over [start, end) from the read models
    (:class:`~ledger.services.quality.InvalidReport` for a bad facility or window,
    :class:`ValueError` for an unknown kind)."""
    if kind not in KINDS:
        raise ValueError(f"no report {kind!r}: one of {', '.join(KINDS)}")
    window = ReportWindow(facility, start, end)
    reports = QualityReports(UsageIndex(view), policy, progress)
    made: QcReport | HemovigilanceReport | InventoryReport
    if kind == "qc":
        made = reports.qc(window)
    elif kind == "hemovigilance":
        made = reports.hemovigilance(window)
    else:
        made = reports.inventory(window, step)
    document = made.to_json()
    document["generated_at"] = iso(generated_at or datetime.now(UTC))
    return document


def render_report(kind: str, document: Mapping[str, Any], fmt: str, lang: str) -> bytes:
    """The document rendered as ``fmt`` (``html``, ``pdf`` or ``json``) in ``lang``
    (``zh``, ``zh_CN``, ``en`` …); :class:`ValueError` for any other, and
    :class:`~.charts.MissingCjkFont` for Chinese on a machine without a CJK font,
    :class:`PdfUnavailable` for a PDF where WeasyPrint cannot run."""
    if kind not in KINDS or document.get("kind") != kind:
        raise ValueError(f"not a {kind!r} report document")
    if fmt not in FORMATS:
        raise ValueError(f"no format {fmt!r}: one of {', '.join(FORMATS)}")
    catalog_lang = language(lang)
    if catalog_lang is None:
        raise ValueError(f"no language {lang!r}: zh or en")
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    html = _html(kind, document, catalog_lang, pdf=fmt == "pdf")
    if fmt == "html":
        return html.encode("utf-8")
    return _pdf(html)


# -- HTML -------------------------------------------------------------------------


def _html(kind: str, document: Mapping[str, Any], lang: str, *, pdf: bool) -> str:
    chinese = lang.startswith("zh")
    font = charts.cjk_font() if chinese else _optional_font()
    words = translations(lang, DOMAIN)
    terms = Words.of(lang, none="—")
    env = environment(TEMPLATES, DOMAIN, lang)
    template = env.get_template(f"{kind}.html")
    context = {
        "document": document,
        "term": terms.term,
        "group_name": terms.group,
        "number": functools.partial(_number, lang=lang),
        "period": _period(document, lang),
        "charts": _CHARTS[kind](document, terms, words, chinese),
        "font_path": font.path.as_uri() if (pdf and font is not None) else None,
        "font_family": font.family if font is not None else None,
        "Status": Status,
        "Measure": Measure,
    }
    return template.render(**context)


def _optional_font() -> charts.CjkFont | None:
    try:
        return charts.cjk_font()
    except charts.MissingCjkFont:
        return None


def _number(value: float | int | None, lang: str, digits: int = 2) -> str:
    """A number in the language's format, at most ``digits`` decimals ("—" for none)."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=Locale.parse(lang))


def _period(document: Mapping[str, Any], lang: str) -> str:
    """The window in the language's format: whole days as dates (the last day
    included), anything else as UTC instants."""
    start, end = _instant(document["start"]), _instant(document["end"])
    locale = Locale.parse(lang)
    if _midnight(start) and _midnight(end):
        first = format_date(start, "long", locale=locale)
        last = format_date(end - timedelta(days=1), "long", locale=locale)
        return f"{first} — {last}"
    return f"{format_instant(start, lang)} — {format_instant(end, lang)}"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _midnight(moment: datetime) -> bool:
    return moment.astimezone(UTC).time() == datetime.min.time()


# -- charts -----------------------------------------------------------------------

Charts = dict[str, str]


def _qc_charts(
    document: Mapping[str, Any], terms: Words, words: Translations, chinese: bool
) -> Charts:
    _ = words.gettext
    rates = [
        i
        for i in document["indicators"]
        if i["measure"] == Measure.PERCENT and i["value"] is not None
    ]
    found: Charts = {}
    if rates:
        found["rates"] = charts.data_uri(
            charts.bar_chart(
                [terms.term("indicator", i["key"]) for i in rates],
                [i["value"] for i in rates],
                title=_("Rates the ledger computes"),
                axis=_("%"),
                chinese=chinese,
                limit=115.0,
            )
        )
    shares: dict[str, float] = next(
        (i["parts"] for i in document["indicators"] if i["key"] == "component_transfusion_rate"),
        {},
    )
    if shares:
        found["components"] = charts.data_uri(
            charts.bar_chart(
                [terms.term("component", c) for c in shares],
                list(shares.values()),
                title=_("Share of each component in the units of components transfused"),
                axis=_("%"),
                chinese=chinese,
                limit=115.0,
            )
        )
    return found


def _hemovigilance_charts(
    document: Mapping[str, Any], terms: Words, words: Translations, chinese: bool
) -> Charts:
    _ = words.gettext
    found: Charts = {}
    table = document["category_by_severity"]
    if table:
        categories = [c for c in ReactionCategory if c in table]
        found["categories"] = charts.data_uri(
            charts.stacked_bar_chart(
                [terms.term("reaction", c) for c in categories],
                {
                    terms.term("severity", s): [table[c][s] for c in categories]
                    for s in Severity
                    if any(table[c][s] for c in categories)
                },
                title=_("Reaction cases by category and severity"),
                axis=_("Cases"),
                chinese=chinese,
                colours=("#56B4E9", "#E69F00", "#D55E00", "#000000"),
            )
        )
    hours = document["delays"]["hours"]
    if hours:
        found["delays"] = charts.data_uri(
            charts.histogram(
                hours,
                title=_("Delay from onset to report"),
                axis=_("Hours"),
                count_axis=_("Cases"),
                chinese=chinese,
            )
        )
    return found


def _bands(document: Mapping[str, Any], terms: Words, component: str) -> list[charts.Band]:
    """The alert levels of ``component`` as bands: each from the next lower threshold
    up to its own (a component's own thresholds, else the defaults)."""
    thresholds = document["thresholds"]
    below = thresholds.get("by_component", {}).get(component, thresholds["below"])
    ordered = sorted(below.items(), key=lambda item: item[1])
    bands, low = [], 0.0
    for level, high in ordered:
        bands.append(
            charts.Band(low, high, charts.ALERT_COLOURS[level], terms.term("alert", level))
        )
        low = high
    return bands


def _inventory_charts(
    document: Mapping[str, Any], terms: Words, words: Translations, chinese: bool
) -> Charts:
    _ = words.gettext
    found: Charts = {}
    for component in [*Component, "?"]:
        groups = [g for g in document["groups"] if g["component"] == component]
        if not groups:
            continue
        series = {
            terms.group(g["abo"], g["rhd"]): (
                [_instant(p["at"]) for p in g["points"]],
                [p["days_of_supply"] for p in g["points"]],
            )
            for g in groups
        }
        found[str(component)] = charts.data_uri(
            charts.time_series(
                series,
                _bands(document, terms, str(component)),
                title=_("Days of supply: %(component)s")
                % {"component": terms.term("component", component)},
                axis=_("Days of supply"),
                chinese=chinese,
            )
        )
    return found


_CHARTS: dict[str, Callable[[Mapping[str, Any], Words, Translations, bool], Charts]] = {
    "qc": _qc_charts,
    "hemovigilance": _hemovigilance_charts,
    "inventory": _inventory_charts,
}


# -- PDF --------------------------------------------------------------------------


class PdfUnavailable(RuntimeError):
    """WeasyPrint is installed but cannot run here (its system libraries are missing)."""


def _pdf(html: str) -> bytes:
    """The HTML as a PDF (WeasyPrint; the CJK font the HTML names is embedded)."""
    for chatty in ("weasyprint", "fontTools"):  # a line per layout step, at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        import weasyprint  # type: ignore[import-untyped]  # (slow: only for a PDF)
    except OSError as error:  # its system libraries (Pango) are missing
        raise PdfUnavailable(
            "WeasyPrint cannot load its system libraries, so no PDF can be made "
            f"({first_line(error)}): install Pango (Debian: apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0), or ask for --format html"
        ) from None

    pdf = weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    assert pdf is not None  # write_pdf without a target returns the bytes
    return bytes(pdf)
