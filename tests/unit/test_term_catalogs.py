"""The words for the ledger's codes: one module, one catalog domain (``terms``), for the
pages and the reports alike; and the ledger's own sentences said from their codes.

The message ids are extracted from :mod:`ledger.entrypoints.glossary` as a
translator's tool would (Babel's Python extractor, keyword ``N_``) and compared with
the ``terms`` catalogs of both languages. The sentences are said from the codes and
fields the state machine, the acknowledgements, the lookbacks and the reports give
— the stories below raise every detail there is — so a placeholder a catalog names
that the domain does not give (or a code without words) fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

from ledger.domain.acknowledgement import Unmatched
from ledger.domain.indicators import Measure, MissingData, Note, Source
from ledger.domain.indicators import Status as IndicatorStatus
from ledger.domain.inventory import AlertLevel
from ledger.domain.unit_state import DetailCode, Use
from ledger.domain.vocabulary import (
    ABO,
    Component,
    Imputability,
    ReactionCategory,
    RhD,
    Severity,
)
from ledger.domain.vocabulary import Test as LabTest
from ledger.entrypoints import glossary, i18n
from ledger.entrypoints.glossary import Words, written_in
from ledger.services.lookback import Undetermined
from ledger.services.quality import InvalidReport, Refusal, ReportWindow
from tests.unit.test_unit_state import DETAIL_STORIES, state_of

ENTRYPOINTS = Path(glossary.__file__).resolve().parent
HAN = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def marked(path: Path) -> list[str]:
    """The message ids ``path`` marks with ``N_``, in order (repeats kept)."""
    return [
        message[0] if isinstance(message, tuple) else message
        for _, message, _, _ in extract_from_file("python", str(path), keywords={"N_": None})
    ]


TERMS = set(marked(ENTRYPOINTS / "glossary.py"))


def catalog_messages(lang: str) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in i18n.catalog(lang, glossary.DOMAIN) if m.id}


def test_the_extraction_finds_the_terms_and_the_sentences() -> None:
    assert len(TERMS) > 250
    assert {"Red cells", "Sufficient", "Reactive result: %(test)s"} <= TERMS


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_term_is_in_each_catalog_translated_and_nothing_else(lang: str) -> None:
    catalog = catalog_messages(lang)
    assert sorted(TERMS - set(catalog)) == []
    assert sorted(set(catalog) - TERMS) == []
    assert [m for m, text in catalog.items() if not text] == []


def test_the_chinese_terms_are_chinese_and_keep_the_placeholders() -> None:
    for message, text in catalog_messages("zh_CN").items():
        assert HAN.search(text) or not re.search(r"[A-Za-z]", message), message  # "%" is "%"
        assert sorted(PLACEHOLDER.findall(message)) == sorted(PLACEHOLDER.findall(text)), message


def test_no_other_module_marks_a_term() -> None:
    """A component, a reaction or an alert level is worded in the glossary alone, so
    the pages and the reports cannot name it differently."""
    for module in sorted(ENTRYPOINTS.glob("*.py")):
        if module.name != "glossary.py":
            assert TERMS.isdisjoint(marked(module)), module.name


def test_the_clinical_words_are_those_of_the_chinese_rules() -> None:
    zh = catalog_messages("zh_CN")
    for english, chinese in {
        "Red cells": "红细胞",
        "Plasma": "血浆",
        "Platelets": "血小板",
        "Cryoprecipitate": "冷沉淀",
        "Crossmatch performed": "交叉配血",
        "Transfusion adverse reaction reported": "上报输血不良反应",
        "Inventory alert": "库存预警",
        "Transfusion episodes": "输血人次",
        "Transfusion reactions reported per 1,000 transfusion episodes": (
            "千输血人次输血不良反应上报例数"
        ),
        "Component transfusion rate": "成分输血率",
    }.items():
        assert zh[english] == chinese, english
    assert "单位" in zh["Units (U)"]


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        ("component", Component),
        ("group", ABO),
        ("rhd", RhD),
        ("reaction", ReactionCategory),
        ("severity", Severity),
        ("imputability", Imputability),
        ("alert", AlertLevel),
        ("alert_short", AlertLevel),
        ("test", LabTest),
        ("use", Use),
        ("indicator_status", IndicatorStatus),
        ("measure", Measure),
        ("source", Source),
        ("missing", MissingData),
        ("note", Note),
    ],
)
def test_every_code_has_words(table: str, codes: type[StrEnum]) -> None:
    assert {c.value for c in codes} <= set(glossary.TABLES[table])


@pytest.mark.parametrize(
    ("table", "codes"),
    [("detail", DetailCode), ("unmatched", Unmatched), ("undetermined", Undetermined),
     ("refusal", Refusal)],
)  # fmt: skip
def test_every_sentence_the_ledger_writes_has_words(table: str, codes: type[StrEnum]) -> None:
    assert set(glossary.SENTENCES[table]) == {c.value for c in codes}


# -- the ledger's own sentences, said from their codes ---------------------------------


@pytest.mark.parametrize("story", DETAIL_STORIES, ids=lambda s: s.__name__)
def test_every_detail_a_story_raises_is_said_in_each_language(story: object) -> None:
    assert callable(story)
    findings = state_of(story()).findings
    assert findings
    zh, en = Words.of("zh_CN"), Words.of("en")
    for finding in findings:
        chinese = zh.sentence("detail", finding.said.code, finding.said.values())
        english = en.sentence("detail", finding.said.code, finding.said.values())
        assert chinese and HAN.search(chinese), finding
        assert english and not HAN.search(english), finding
        for said in (chinese, english):
            assert "%(" not in said
            assert not re.search(r"\b[A-Z]+_[A-Z_]+\b", said), said  # no code left as it is


def test_a_detail_says_its_values_in_their_own_words() -> None:
    zh, en = Words.of("zh_CN"), Words.of("en")
    fields = {"component": "RED_CELLS", "abo": "A", "patient_abo": "O"}
    assert zh.sentence("detail", "ABO_MISMATCH", fields) == "A型红细胞输给了O型患者"
    assert en.sentence("detail", "ABO_MISMATCH", fields) == (
        "Red cells of group A given to a patient of group O"
    )
    rhd = {"rhd": "POS", "patient_rhd": "NEG"}
    assert zh.sentence("detail", "RHD_MISMATCH", rhd) == "RhD阳性红细胞输给了RhD阴性患者"
    assert zh.sentence("detail", "USED_UNRELEASED", {"action": "issue"}) == "发出时单位尚未放行"
    assert zh.sentence("detail", "REACTIVE_TEST", {"test": "HIV_NAT"}) == "HIV核酸检测结果呈反应性"


def test_why_an_acknowledgement_closed_nothing_and_what_a_lookback_could_not_tell() -> None:
    zh = Words.of("zh_CN")
    other = {"facility": "S3102", "notice_facility": "S3101"}
    said = zh.sentence("unmatched", "OTHER_FACILITY", other)
    assert said == "回执来自S3102\uff0c而通知发往S3101。"
    unconfirmed = {"din": "S310126000001", "product_code": "E0791V00", "status": "IN_TRANSIT"}
    said = zh.sentence("undetermined", "WHEREABOUTS_UNCONFIRMED", unconfirmed)
    assert said is not None
    assert said.startswith("单位 S310126000001 E0791V00\uff1a运输中\uff1b")


def test_why_a_report_cannot_be_made_is_said_from_the_refusal() -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    with pytest.raises(InvalidReport) as refused:
        ReportWindow("S31", start, start + timedelta(days=1))
    assert refused.value.said.code == Refusal.NOT_A_FIN
    assert "Facility Identification Number" in str(refused.value)  # the CLI's English
    chinese = Words.of("zh_CN").sentence("refusal", refused.value.said.code)
    assert chinese and "ISBT 128" in chinese and HAN.search(chinese)


def test_a_code_no_catalog_knows_or_fields_that_do_not_fit_are_not_said() -> None:
    zh = Words.of("zh_CN")
    assert zh.sentence("detail", "SOMETHING_NEW", {}) is None
    assert zh.sentence("detail", None) is None
    assert zh.sentence("detail", "ABO_MISMATCH", {"component": "RED_CELLS"}) is None


def test_a_recorded_text_is_marked_with_the_language_it_is_written_in() -> None:
    assert written_in("供者复检阳性 启动回溯") == "zh-CN"
    assert written_in("recipient seroconverted") == "en"
    assert written_in(None) == "en"
