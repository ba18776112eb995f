"""Every word of the reports comes from the ``reports`` catalogs, in both languages.

The message ids are extracted as a translator's tools would: Babel's Jinja2
extractor over ``templates/reports/``, its Python extractor (``_`` and ``N_``)
over the module that renders reports. Each must be in both catalogs, translated
into Chinese, and the catalogs hold nothing else; the templates hold no words of
their own outside ``_()``. (The codes' words, shared with the pages, are the
``terms`` catalog's: ``test_term_catalogs``.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

from ledger.entrypoints import quality
from ledger.entrypoints.i18n import LANGUAGES, catalog

TEMPLATES = quality.TEMPLATES
SOURCES = (Path(quality.__file__),)
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}


def _message(extracted: object) -> str:
    return extracted[0] if isinstance(extracted, tuple) else str(extracted)


def used_message_ids() -> set[str]:
    found: set[str] = set()
    for path in sorted(TEMPLATES.iterdir()):
        for _, message, _, _ in extract_from_file(
            "jinja2.ext:babel_extract", str(path), keywords={"_": None}, options=JINJA_OPTIONS
        ):
            found.add(_message(message))
    for path in SOURCES:
        for _, message, _, _ in extract_from_file(
            "python", str(path), keywords={"_": None, "N_": None}
        ):
            found.add(_message(message))
    return found


USED = used_message_ids()


def test_the_extraction_finds_the_reports_words() -> None:
    assert len(USED) > 50
    assert {"Clinical blood-use quality-control indicators", "Days of supply"} <= USED
    assert "Plasma" not in USED  # a term: the terms catalog's


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_in_the_catalog_and_nothing_else(lang: str) -> None:
    ids = {m.id for m in catalog(lang, "reports") if m.id}
    assert sorted(USED - ids) == []
    assert sorted(ids - USED) == []


def test_every_message_has_a_chinese_translation() -> None:
    chinese = {m.id: m.string for m in catalog("zh_CN", "reports") if m.id}
    untranslated = sorted(i for i in USED if not chinese.get(i))
    assert untranslated == []
    # the domain's own words, as the clinical blood-use rules write them
    assert chinese["Clinical blood-use quality-control indicators"] == "临床用血质量控制指标"
    assert chinese["Alert thresholds"] == "库存预警阈值"


def test_placeholders_survive_translation() -> None:
    for lang in LANGUAGES:
        for message in catalog(lang, "reports"):
            if message.id and message.string:
                wanted = sorted(re.findall(r"%\(\w+\)s", str(message.id)))
                assert sorted(re.findall(r"%\(\w+\)s", str(message.string))) == wanted, message.id


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_TAGS = re.compile(r"<[^>]*>")


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_templates_hold_no_words_of_their_own(path: Path) -> None:
    text = _TAGS.sub(" ", _JINJA.sub(" ", path.read_text("utf-8")))
    assert re.findall(r"[^\W\d_]+", text) == []
