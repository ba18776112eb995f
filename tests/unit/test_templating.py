"""The quick ``gettext`` and ``instant`` of the pages say exactly what Jinja2's and
Babel's say: every message of both catalogs, with values that need escaping."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

import jinja2
import pytest
from markupsafe import Markup

from ledger.entrypoints import i18n, templating
from ledger.entrypoints.pages import TEMPLATES

#: Values a placeholder may be given: markup to escape, quotes, numbers, markup kept.
VALUES: tuple[Any, ...] = ('<b>"A&B"</b>', "O'NEG", 12, 3.25, None, Markup("<i>kept</i>"))
ASK = "{{ _(message, **variables) }}|{{ gettext(message, **variables) }}"


def environment(translations: Any, *, quick: bool, autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    if quick:
        ask = templating.quick_gettext(translations)
        env.globals.update(gettext=ask, _=ask)
    return env


def messages(lang: str) -> list[str]:
    return [m.id for m in i18n.catalog(lang, "pages") if m.id and isinstance(m.id, str)]


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_message_reads_as_jinja_s_own_gettext_gives_it(lang: str, autoescape: bool) -> None:
    translations = i18n.translations(lang, "pages")
    jinja = environment(translations, quick=False, autoescape=autoescape).from_string(ASK)
    quick = environment(translations, quick=True, autoescape=autoescape).from_string(ASK)
    values = itertools.cycle(VALUES)
    found = messages(lang)
    assert len(found) > 150
    with_placeholders = 0
    for message in found:
        names = re.findall(r"%\((\w+)\)s", message)
        with_placeholders += bool(names)
        variables = {name: next(values) for name in names}
        context = {"message": message, "variables": variables}
        assert quick.render(context) == jinja.render(context), message
    assert with_placeholders > 30


class Catalog:
    """Translations of a few messages with placeholders other than ``%(name)s``."""

    TEXTS: ClassVar[dict[str, str]] = {
        "%(count)d units": "%(count)d 单位",
        "%(share).1f%% used": "已用 %(share).1f%%",
        "plain 100%%": "全部 100%%",
    }

    def gettext(self, message: str) -> str:
        return self.TEXTS.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural


@pytest.mark.parametrize("autoescape", [True, False])
def test_other_placeholders_are_formatted_as_jinja_formats_them(autoescape: bool) -> None:
    jinja = environment(Catalog(), quick=False, autoescape=autoescape).from_string(ASK)
    quick = environment(Catalog(), quick=True, autoescape=autoescape).from_string(ASK)
    for message, variables in [
        ("%(count)d units", {"count": 7}),
        ("%(share).1f%% used", {"share": 12.345}),
        ("plain 100%%", {}),
    ]:
        context = {"message": message, "variables": variables}
        assert quick.render(context) == jinja.render(context)


def test_the_pages_instants_are_remembered_and_read_as_babel_writes_them() -> None:
    env = i18n.environment(TEMPLATES, "pages", "zh_CN")
    templating.quicken(env, i18n.translations("zh_CN", "pages"))
    instant = env.filters["instant"]
    templating.quicken(env, i18n.translations("zh_CN", "pages"))
    assert env.filters["instant"] is instant  # shared environments: wrapped once
    moment = datetime(2026, 9, 1, 8, 30, 15, tzinfo=UTC)
    for value in (moment, "2026-09-01T08:30:15Z", "2026-09-01T08:30:15.000Z", None, ""):
        expected = i18n.format_instant(moment, "zh_CN") if value else ""
        assert instant(value) == expected
        assert instant(value) == expected  # and again, remembered
    assert instant.cache_info().hits >= 3
