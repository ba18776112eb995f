"""The pages' templates made quick: the same text, in a fraction of the time.

A dashboard of every facility is some six hundred stock cells, each saying four
things through ``_()``; an alert list, three hundred moments through the ``instant``
filter. Jinja2's own newstyle ``gettext`` and Babel's date formatting are correct
and slow there — about ten and forty microseconds a call — and the page takes tens
of milliseconds to render. :func:`quicken` gives a pages environment

- a ``gettext`` (and ``_``) that answers exactly what Jinja2's would — the
  translation as markup, each variable escaped into it — without markupsafe's
  ``Markup % mapping``, which wraps every value in a helper object; a message with a
  placeholder other than ``%(name)s`` still goes the library's way;
- an ``instant`` filter that remembers its last answers: a pure function of the
  instant and the environment's language, and the same moments come back page after
  page (a unit's facts, the cases' openings, the alerts' times).

Nothing a page says changes (``tests/unit/test_templating.py`` holds each catalog
message to Jinja2's own answer).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Protocol

import jinja2
from markupsafe import Markup, escape

__all__ = ["REMEMBERED_INSTANTS", "quick_gettext", "quicken", "remembered"]

#: How many instants each language's ``instant`` filter keeps formatted.
REMEMBERED_INSTANTS = 16_384
#: A ``%`` that is not ``%(name)s`` nor ``%%``: the message is formatted as Jinja2 does.
_OTHER_PLACEHOLDER = re.compile(r"%(?!\(\w+\)s|%)")


class Translating(Protocol):
    def gettext(self, message: str) -> str: ...


@functools.lru_cache(maxsize=4096)
def _plain(text: str) -> bool:
    """Whether every placeholder of ``text`` is ``%(name)s`` (or a ``%%``)."""
    return _OTHER_PLACEHOLDER.search(text) is None


def quick_gettext(translations: Translating) -> Callable[..., str]:
    """A newstyle ``gettext`` for templates: :func:`jinja2.ext._make_new_gettext`'s
    answer — with autoescape, ``Markup(translation) % variables``, which escapes each
    variable as it is put in — made as ``Markup(translation % escaped variables)``."""
    translate = translations.gettext

    @jinja2.pass_context
    def gettext(context: jinja2.runtime.Context, message: str, /, **variables: Any) -> str:
        text = translate(message)
        if not context.eval_ctx.autoescape:
            return text % variables
        if _plain(text):
            return Markup(text % {name: escape(value) for name, value in variables.items()})
        return Markup(text) % variables

    return gettext


def remembered(instant: Callable[[Any], str]) -> Callable[[Any], str]:
    """An ``instant`` filter remembering its last :data:`REMEMBERED_INSTANTS` answers;
    the filter itself if it remembers already."""
    if hasattr(instant, "cache_info"):
        return instant
    return functools.lru_cache(maxsize=REMEMBERED_INSTANTS)(instant)


def quicken(env: jinja2.Environment, translations: Translating) -> None:
    """Give ``env`` (a pages environment, its i18n extension installed newstyle with
    ``translations``) the quick ``gettext`` and the remembering ``instant`` filter.
    Idempotent: the environments are made once per language and shared."""
    quick = quick_gettext(translations)
    env.globals["gettext"] = quick
    env.globals["_"] = quick
    env.filters["instant"] = remembered(env.filters["instant"])
