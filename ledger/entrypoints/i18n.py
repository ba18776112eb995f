"""Languages of the pages and reports: Simplified Chinese first, then English.

Every word a person reads on a page or in a report comes from a gettext message
catalog (``ledger/locale/<lang>/LC_MESSAGES/<domain>.po``), none from a template:
one catalog domain per surface (``pages``, ``reports``), so each can grow on its
own, and one both use (``terms``: the words for the ledger's codes and its own
sentences, :mod:`ledger.entrypoints.glossary`). The ``.po`` files are the only
source: they are compiled in memory when first used (Babel), so no compiled ``.mo``
can drift from them, and the package ships the text files alone.

Templates are Jinja2 with the ``i18n`` extension (``{{ _("...") }}``,
``{% trans %}``). One environment per (folder, domain, language), made once and
kept: rendering is then thread safe, since no translation is swapped in and out
of a shared environment per request.

Times are stored in UTC and shown in UTC, in the viewer's locale's format
(:func:`format_instant`), always saying "UTC": a time a person copies from a page
must mean the same in any hospital.
"""

from __future__ import annotations

import functools
import io
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from babel import Locale
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "catalog",
    "environment",
    "format_instant",
    "language",
    "negotiate",
    "translations",
]

#: The languages there are catalogs for, in order of preference (the first is the default).
LANGUAGES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LANGUAGE = LANGUAGES[0]
#: Where the catalogs are: ``<lang>/LC_MESSAGES/<domain>.po``.
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"


def language(asked: str | None) -> str | None:
    """The catalog language ``asked`` names (``zh``, ``zh-CN``, ``zh_Hans``, ``en-GB``
    …), or ``None`` when there is none for it."""
    if not asked:
        return None
    primary = asked.strip().replace("-", "_").split("_")[0].lower()
    return next((lang for lang in LANGUAGES if lang.split("_")[0] == primary), None)


def negotiate(accept_language: str | None) -> str:
    """The language an ``Accept-Language`` header prefers among :data:`LANGUAGES`
    (its q-values honoured), else :data:`DEFAULT_LANGUAGE`."""
    ranked: list[tuple[float, int, str]] = []
    for place, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        found = language(tag)
        if found is not None and quality > 0:
            ranked.append((-quality, place, found))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


@functools.cache
def catalog(lang: str, domain: str) -> Catalog:
    """The ``domain`` catalog of ``lang``, as Babel reads it (tests compare catalogs)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as file:
        return read_po(file, locale=lang, domain=domain)


@functools.cache
def translations(lang: str, domain: str) -> Translations:
    """The ``domain`` catalog of ``lang`` compiled in memory."""
    compiled = io.BytesIO()
    write_mo(compiled, catalog(lang, domain))
    compiled.seek(0)
    return Translations(compiled, domain=domain)


@functools.cache
def environment(folder: Path, domain: str, lang: str) -> jinja2.Environment:
    """A Jinja2 environment over the templates in ``folder`` speaking ``lang`` from the
    ``domain`` catalog (HTML autoescaped); ``format_instant`` is its ``instant`` filter."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html", "xml", "svg"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang, domain), newstyle=True)  # type: ignore[attr-defined]
    env.filters["instant"] = functools.partial(_instant_filter, lang=lang)
    env.globals["lang"] = lang
    env.globals["html_lang"] = lang.replace("_", "-")
    return env


def format_instant(moment: datetime, lang: str) -> str:
    """``moment`` in UTC, in ``lang``'s medium date-time format, with "UTC" after it."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    shown = format_datetime(utc, "medium", tzinfo=UTC, locale=Locale.parse(lang))
    return f"{shown} UTC"


def _instant_filter(value: datetime | str | None, lang: str) -> str:
    if value is None or value == "":
        return ""
    moment = (
        datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    )
    return format_instant(moment, lang)
