"""What an answer discloses: the donor and patient identifiers in it, or it without them.

The HTTP API records every response that reveals an identifier (who saw which
ids, through which route) and withholds donor ids from clinicians. Both need
the same reading of a document: an identifier is the value of a field the
ledger seals (:data:`IDENTITY_FIELDS`) or an entry of a ``donors`` list.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ledger.domain.identity import IDENTITY_FIELDS

#: What stands where an identifier is withheld.
WITHHELD = "withheld"

#: Lists whose entries are identifiers of one kind.
IDENTITY_LISTS: dict[str, str] = {"donors": "donor", "patients": "patient"}


def identifiers_in(document: Any) -> set[tuple[str, str]]:
    """Every ``(kind, value)`` identifier a JSON-like document shows."""
    return set(_walk(document))


def _walk(document: Any) -> Iterator[tuple[str, str]]:
    if isinstance(document, dict):
        for name, value in document.items():
            kind = IDENTITY_FIELDS.get(name)
            if kind is not None and isinstance(value, str) and value != WITHHELD:
                yield kind, value
            elif name in IDENTITY_LISTS and isinstance(value, list):
                yield from (
                    (IDENTITY_LISTS[name], v) for v in value if isinstance(v, str) and v != WITHHELD
                )
            else:
                yield from _walk(value)
    elif isinstance(document, list):
        for value in document:
            yield from _walk(value)


def withholding(document: Any, kind: str) -> Any:
    """The document with every identifier of ``kind`` replaced by :data:`WITHHELD`."""
    if isinstance(document, dict):
        shown: dict[str, Any] = {}
        for name, value in document.items():
            if IDENTITY_FIELDS.get(name) == kind and isinstance(value, str):
                shown[name] = WITHHELD
            elif IDENTITY_LISTS.get(name) == kind and isinstance(value, list):
                shown[name] = [WITHHELD for _ in value]
            else:
                shown[name] = withholding(value, kind)
        return shown
    if isinstance(document, list):
        return [withholding(value, kind) for value in document]
    return document
