"""The pages' words and files: every message in both catalogs, none written in a
template, and nothing fetched from outside the package.

The messages are extracted from the templates (Jinja2's own extraction of
``_()`` calls) and from the Python modules that mark them (``N_``), as a
translator's tool would, and compared with the ``pages`` catalogs. (The codes' words,
shared with the reports, are the ``terms`` catalog's: ``test_term_catalogs``.)
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_python

from ledger.entrypoints import i18n
from ledger.entrypoints.pages import STATIC, TEMPLATES

ENTRYPOINTS = Path(i18n.__file__).resolve().parent
MARKED_MODULES = (ENTRYPOINTS / "pages.py",)


def extracted() -> dict[str, str]:
    """Every message id the pages use -> where it is first used."""
    env = i18n.environment(TEMPLATES, "pages", "en")
    found: dict[str, str] = {}
    for template in sorted(TEMPLATES.glob("*.html")):
        for line, _, message in env.extract_translations(template.read_text("utf-8")):
            text = message[0] if isinstance(message, tuple) else message
            assert isinstance(text, str), f"{template.name}:{line}: _() of a variable"
            found.setdefault(text, f"{template.name}:{line}")
    for module in MARKED_MODULES:
        with module.open("rb") as file:
            for line, _, message, _ in extract_python(file, {"N_": None}, [], {}):
                found.setdefault(message, f"{module.name}:{line}")
    return found


def catalog_messages(lang: str) -> dict[str, str]:
    return {m.id: m.string for m in i18n.catalog(lang, "pages") if m.id}


def test_the_pages_use_many_messages() -> None:
    assert len(extracted()) > 150  # the extraction itself works
    assert "Inventory dashboard" in extracted() and "Red cells" not in extracted()


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_message_is_in_each_catalog_and_translated(lang: str) -> None:
    catalog = catalog_messages(lang)
    missing = {m: where for m, where in extracted().items() if m not in catalog}
    assert not missing
    untranslated = [m for m, text in catalog.items() if not text]
    assert not untranslated


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_no_catalog_keeps_a_message_no_page_uses(lang: str) -> None:
    assert set(catalog_messages(lang)) - set(extracted()) == set()


def test_the_chinese_catalog_is_chinese_and_keeps_the_placeholders() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for message, text in catalog_messages("zh_CN").items():
        assert han.search(text), message
        assert sorted(re.findall(r"%\(\w+\)s", message)) == sorted(
            re.findall(r"%\(\w+\)s", text)
        ), message


def test_the_clinical_words_are_those_of_the_chinese_rules() -> None:
    zh = catalog_messages("zh_CN")
    assert zh["Units (单位)"] == "单位"
    assert "输血不良反应" in zh["Hemovigilance: transfusion adverse reactions"]
    assert zh["%(available)s units · %(u)s U"].endswith("%(u)s 单位")


class _Text(HTMLParser):
    """The words a template would show that are not in a ``_()`` call: text outside
    ``<code>`` and the attributes a person reads or hears."""

    SPOKEN = ("title", "aria-label", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.in_code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_code += tag == "code"
        self.words += [v for k, v in attrs if k in self.SPOKEN and v]

    def handle_endtag(self, tag: str) -> None:
        self.in_code -= tag == "code"

    def handle_data(self, data: str) -> None:
        if not self.in_code:
            self.words.append(data)


def _shown_words(source: str) -> list[str]:
    without_jinja = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
    parser = _Text()
    parser.feed(without_jinja)
    return [w.strip() for w in parser.words if re.search(r"[^\W\d_]", w)]


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_writes_a_word_itself(template: str) -> None:
    assert _shown_words((TEMPLATES / template).read_text("utf-8")) == []


def test_the_check_for_written_words_finds_them() -> None:
    assert _shown_words('<p>{{ _("Fine") }} Stock</p>') == ["Stock"]
    assert _shown_words('<a title="Open">{{ x }}</a><code>bloodledger report</code>') == ["Open"]
    assert _shown_words("<td>{{ n }} · (</td>") == []


_EXTERNAL = re.compile(rb"(?:https?:)?//[A-Za-z0-9-]+\.[A-Za-z0-9.-]+", re.I)


def _shipped() -> list[Path]:
    return sorted(p for p in [*TEMPLATES.rglob("*"), *STATIC.rglob("*")] if p.is_file())


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_nothing_the_pages_ship_points_outside(path: Path) -> None:
    """A hospital's network is closed: no CDN, no web font, no script from a host."""
    assert _EXTERNAL.findall(path.read_bytes()) == []


def test_the_check_for_outside_addresses_finds_them() -> None:
    assert _EXTERNAL.findall(b'<script src="https://cdn.example.org/x.js">')
    assert _EXTERNAL.findall(b"@import url(//fonts.example.com/css);")
    assert not _EXTERNAL.findall(b'<link href="/static/pages.css">')


def test_htmx_ships_with_its_licence() -> None:
    assert (STATIC / "htmx" / "htmx.min.js").stat().st_size > 10_000
    assert "Zero-Clause BSD" in (STATIC / "htmx" / "LICENSE").read_text()
