"""A sentence the ledger writes itself: a stable code, the values it needs, its English.

Some of what the ledger answers is said by the ledger, not recorded from anyone: why
a safety flag was raised (a finding's detail), why an acknowledgement closed no
notice, what a lookback could not determine, why a report cannot be made. The
documents have always carried these as English text, and the CLI, the API and their
integrators read that text. A person reading a page in Chinese needs the same
sentence in Chinese, and a translation cannot be made from English text: it is made
from a code and the values the sentence names. So each such sentence is a
:class:`Sentence` — its ``code`` (stable: documents and read models keep it), its
``fields`` (plain values: codes of the contract, FINs, DINs; never a person's
identifier) and its English ``text``, made from the same values, so the two cannot
disagree. The domain stays pure: the words of other languages are the entrypoints'
(``ledger/entrypoints/glossary.py``), which fall back to ``text`` for a code they do
not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Sentence", "said"]


@dataclass(frozen=True)
class Sentence:
    """One sentence: its code, its English text, and the values it names (in order)."""

    code: str
    text: str
    fields: tuple[tuple[str, str], ...] = ()

    def values(self) -> dict[str, str]:
        """The named values, as a mapping (what a translation's placeholders take)."""
        return dict(self.fields)

    def to_json(self) -> dict[str, Any]:
        """The code and the values, as documents show them beside the text."""
        return {"code": self.code, "fields": self.values()}


def said(code: str, english: str, **fields: str) -> Sentence:
    """The sentence ``code`` with ``fields``: ``english`` is a :meth:`str.format`
    template naming each field (``"{action} of a unit not in stock"``)."""
    return Sentence(str(code), english.format(**fields), tuple(fields.items()))
