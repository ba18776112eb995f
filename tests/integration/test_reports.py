"""The reports on real stores: numbers, HTML in both languages, the PDF as a person sees it.

The facts of :mod:`tests.report_story` are recorded and projected into a SQLite file
and a PostgreSQL schema; each report's document must give the numbers counted by
hand there. The HTML is read for the words of the clinical blood-use rules (from the
catalog, in the language asked), the PDF through poppler: ``pdftotext`` must find the
Chinese text, ``pdftoppm`` must draw pages that are not blank.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from matplotlib import image

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.inventory import AlertPolicy
from ledger.entrypoints.i18n import translations
from ledger.entrypoints.quality import render_report, report_document
from ledger.services.quality import InvalidReport
from projections import queries
from tests.builders import HOSPITAL
from tests.conftest import drop_schema, pg_store_url
from tests.report_story import (
    HEMOVIGILANCE,
    QC,
    SEPTEMBER,
    SHELF,
    SHELF_HOSPITAL,
    SHELF_WINDOW,
    september_facts,
    shelf_facts,
)

pytestmark = pytest.mark.integration

POLICY = AlertPolicy(window_days=2)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def models(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReadModels]:
    """The stories recorded and projected once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'ledger.db'}"
    else:
        url = pg_store_url()
    opened = open_read_models_of(store_for(url))
    try:
        opened.ledger.record([*september_facts(), *shelf_facts()])
        opened.projector.catch_up()
        yield opened
    finally:
        opened.close()
        if request.param == "postgresql":
            drop_schema(url)


def document(models: ReadModels, kind: str) -> dict[str, Any]:
    if kind == "inventory":
        return report_document(kind, models.view, SHELF_HOSPITAL, *SHELF_WINDOW, policy=POLICY)
    return report_document(kind, models.view, HOSPITAL, *SEPTEMBER)


# -- the numbers ------------------------------------------------------------------


def test_qc_indicators_are_the_hand_counted_ones(models: ReadModels) -> None:
    qc = document(models, "qc")
    assert (qc["facility"], qc["start"], qc["end"]) == (
        HOSPITAL,
        "2026-09-01T00:00:00Z",
        "2026-10-01T00:00:00Z",
    )
    assert qc["totals"] == QC["totals"]
    found = {i["key"]: i for i in qc["indicators"]}
    for key, (numerator, denominator, value) in QC["indicators"].items():
        assert (found[key]["numerator"], found[key]["denominator"], found[key]["value"]) == (
            numerator,
            denominator,
            value,
        ), key
    assert found["component_transfusion_rate"]["parts"] == QC["shares"]
    uncomputable = [i["number"] for i in qc["indicators"] if i["status"] == "NOT_COMPUTABLE"]
    assert uncomputable == [2, 3, 4, 5, 7, 8, 10]
    assert all(i["missing"] for i in qc["indicators"] if i["status"] != "COMPUTED")


def test_hemovigilance_is_the_hand_counted_one(models: ReadModels) -> None:
    report = document(models, "hemovigilance")
    for key in ("reports", "cases", "serious", "units_transfused", "episodes"):
        assert report[key] == HEMOVIGILANCE[key], key
    assert report["per_thousand_units"] == HEMOVIGILANCE["per_thousand_units"]
    assert report["per_thousand_episodes"] == HEMOVIGILANCE["per_thousand_episodes"]
    assert report["delays"]["hours"] == HEMOVIGILANCE["hours"]
    assert report["delays"]["before_onset"] == HEMOVIGILANCE["before_onset"]
    assert {k: v for k, v in report["by_category"].items() if v} == {
        "FNHTR": 1,
        "ALLERGIC": 1,
        "TACO": 1,
    }
    assert report["category_by_severity"]["ALLERGIC"]["SEVERE"] == 1


def test_inventory_is_the_hand_counted_shelf(models: ReadModels) -> None:
    report = document(models, "inventory")
    assert report["centre"] is False
    assert report["thresholds"]["below"] == {"YELLOW": 3.0, "ORANGE": 2.0, "RED": 1.0}
    groups = {(g["component"], g["abo"], g["rhd"]): g for g in report["groups"]}
    assert set(groups) == set(SHELF)
    for key, expected in SHELF.items():
        points = groups[key]["points"]
        assert [p["at"][:10] for p in points] == [f"2026-09-0{d}" for d in range(1, 6)]
        for field, values in expected.items():
            assert [p[field] for p in points] == values, (key, field)
    assert groups[("RED_CELLS", "O", "POS")]["samples_by_alert"] == {
        "GREEN": 3,
        "YELLOW": 0,
        "ORANGE": 1,
        "RED": 1,
    }


def test_each_inventory_sample_is_what_the_dashboard_said_then(models: ReadModels) -> None:
    """The series and the dashboard's query are two computations of one thing."""
    report = report_document(
        "inventory",
        models.view,
        SHELF_HOSPITAL,
        *SHELF_WINDOW,
        policy=POLICY,
        step=timedelta(hours=5),
    )
    start = SHELF_WINDOW[0]
    checked = 0
    for group in report["groups"]:
        for index, point in enumerate(group["points"]):
            moment = start + index * timedelta(hours=5)
            [row] = [
                r
                for r in queries.inventory(models.view, moment, POLICY, SHELF_HOSPITAL)
                if (r.component, r.abo, r.rhd) == (group["component"], group["abo"], group["rhd"])
            ] or [None]
            if row is None:  # the dashboard lists a group only once it has stock or use
                assert (point["available"], point["daily_use"]) == (0, 0.0)
                continue
            assert point["available"] == row.available
            assert point["days_of_supply"] == row.to_json()["days_of_supply"]
            assert point["alert"] == row.alert
            checked += 1
    assert checked > 30


def test_a_bad_facility_or_window_is_refused(models: ReadModels) -> None:
    with pytest.raises(InvalidReport, match="Facility Identification Number"):
        report_document("qc", models.view, "S31", *SEPTEMBER)
    with pytest.raises(InvalidReport, match="end after it starts"):
        report_document("qc", models.view, HOSPITAL, SEPTEMBER[1], SEPTEMBER[0])
    with pytest.raises(ValueError, match="no report"):
        report_document("quality", models.view, HOSPITAL, *SEPTEMBER)


# -- HTML -------------------------------------------------------------------------


def html(models: ReadModels, kind: str, lang: str) -> str:
    return render_report(kind, document(models, kind), "html", lang).decode("utf-8")


def test_the_chinese_qc_report_speaks_the_rules_words(models: ReadModels) -> None:
    page = html(models, "qc", "zh")
    assert '<html lang="zh-CN">' in page
    for words in (
        "临床用血质量控制指标",
        "千输血人次输血不良反应上报例数",
        "手术患者自体输血率",
        "成分输血率",
        "输血后评价率",
        "红细胞",
        "血浆",
        "血小板",
        "冷沉淀",
        "单位",
        "输血人次",
        "病案首页",  # what #7 and #8 need, said plainly
    ):
        assert words in page, words
    assert "2026年9月1日" in page and "2026年9月30日" in page  # the days, the last included
    for number in ("600", "26.67", "80.95", "42.86", "66.67", "64.71"):
        assert number in page, number
    assert "Component transfusion rate" not in page  # the catalog's Chinese, not the msgid
    assert page.count("data:image/svg+xml;base64,") == 2  # rates and component shares


def test_the_english_qc_report_is_the_english_catalog(models: ReadModels) -> None:
    page = html(models, "qc", "en")
    english = translations("en", "terms")  # the indicators' names are terms
    assert '<html lang="en">' in page
    for message in ("Component transfusion rate", "Post-transfusion evaluation rate"):
        assert english.gettext(message) in page
    assert "September 1, 2026" in page and "September 30, 2026" in page
    assert "成分输血率" not in page


def test_the_hemovigilance_and_inventory_pages(models: ReadModels) -> None:
    reactions = html(models, "hemovigilance", "zh")
    for words in ("输血不良反应", "非溶血性发热反应", "过敏反应", "输血相关循环超负荷", "严重"):
        assert words in reactions, words
    assert "428.57" in reactions
    assert reactions.count("data:image/svg+xml;base64,") == 2  # categories, delays
    stock = html(models, "inventory", "zh")
    for words in ("库存预警", "黄色预警", "橙色预警", "红色预警", "可供应天数", "O型 RhD阳性"):
        assert words in stock, words
    assert stock.count("data:image/svg+xml;base64,") == 2  # red cells, plasma


def test_render_refuses_what_it_cannot_render(models: ReadModels) -> None:
    qc = document(models, "qc")
    with pytest.raises(ValueError, match="no language"):
        render_report("qc", qc, "html", "fr")
    with pytest.raises(ValueError, match="no format"):
        render_report("qc", qc, "docx", "zh")
    with pytest.raises(ValueError, match="not a 'hemovigilance' report"):
        render_report("hemovigilance", qc, "html", "zh")


# -- PDF --------------------------------------------------------------------------

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) not installed",
)


@needs_poppler
@pytest.mark.parametrize("kind", ["qc", "hemovigilance", "inventory"])
def test_the_chinese_pdf_reads_and_draws(models: ReadModels, kind: str, tmp_path: Path) -> None:
    pdf = tmp_path / f"{kind}.pdf"
    pdf.write_bytes(render_report(kind, document(models, kind), "pdf", "zh"))
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    title = {
        "qc": "临床用血质量控制指标",
        "hemovigilance": "输血不良反应",
        "inventory": "可供应天数变化",
    }[kind]
    assert title in text
    assert re.search(r"2026年9月1日", text)
    if kind == "qc":
        assert "成分输血率" in text and "80.95" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "CJK" in fonts  # the CJK font is embedded, not left to the reader's machine
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / kind)],
        check=True,
    )
    [page] = list(tmp_path.glob(f"{kind}*.png"))
    pixels = image.imread(page)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 200  # an A4 page at 40 dpi
    assert pixels.std() > 0.05  # not a blank page: text, tables and a chart drawn on it
