"""Instants as the ledger writes them: epoch milliseconds (read models) and ISO-8601 text.

Every instant is timezone-aware UTC. The read models store epoch
milliseconds, the same in SQLite and PostgreSQL; JSON documents show
ISO-8601 with a ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def ms(moment: datetime) -> int: ...
@overload
def ms(moment: None) -> None: ...
@overload
def ms(moment: datetime | None) -> int | None: ...
def ms(moment: datetime | None) -> int | None:
    """Epoch milliseconds of an instant (``None`` stays ``None``)."""
    return None if moment is None else int(moment.timestamp() * 1000)


@overload
def from_ms(value: int) -> datetime: ...
@overload
def from_ms(value: None) -> None: ...
@overload
def from_ms(value: int | None) -> datetime | None: ...
def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 text of an instant, ``Z`` for UTC."""
    return moment.isoformat().replace("+00:00", "Z")


def iso_ms(value: int | None) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC text (``Z``), for JSON documents."""
    return None if value is None else iso(from_ms(value))
