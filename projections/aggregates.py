"""The aggregates a projector has seen, advanced by the notifications it reads.

A notification *is* a stored event, so the projector does not need to read an
aggregate back from the store to see it at the version a page ends with: it
keeps the aggregates of recent pages in memory (bounded, least recently used)
and applies the page's events to them. Every kept aggregate is as it stood
at the projector's position (``position``): each later event of it arrives
in a later page. The store is read only for what is not kept — evicted, never
seen, or kept from another position (before a rebuild) — and then *as of* the
position, so the rows stay a function of the log prefix alone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Sequence
from uuid import UUID

from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import Notification

from ledger.application import BloodLedger, fold

Aggregate = BaseAggregate[UUID]


class KeptAggregates:
    """Aggregates as of the projector's position, at most ``size`` of them."""

    def __init__(self, ledger: BloodLedger, size: int) -> None:
        self.ledger = ledger
        self.size = size
        self.position = 0
        self._kept: OrderedDict[UUID, Aggregate] = OrderedDict()
        #: Aggregates read from the store (what keeping them saves).
        self.reads = 0

    def follow_from(self, position: int) -> None:
        """The projector continues after ``position``: forget anything kept at another."""
        if position != self.position:
            self._kept.clear()
            self.position = position

    def advance(self, page: Sequence[Notification]) -> list[Aggregate]:
        """Every aggregate the page touches, as of the page's last notification."""
        touched: dict[UUID, list[Notification]] = {}
        for notification in page:
            touched.setdefault(_uuid(notification.originator_id), []).append(notification)
        advanced = [self._advance(key, events) for key, events in touched.items()]
        self.position = page[-1].id
        self._trim()
        return advanced

    def as_of_position(self, keys: Collection[UUID]) -> dict[UUID, Aggregate]:
        """The given aggregates as of the position (absent: none existed by then)."""
        found = {key: self._kept[key] for key in keys if key in self._kept}
        missing = [key for key in keys if key not in found]
        if missing:
            self.reads += len(missing)
            read = self.ledger.load_many(missing, up_to=self.position)
            self._kept.update(read)
            found.update(read)
        for key in found:
            self._kept.move_to_end(key)
        self._trim()
        return found

    def _advance(self, key: UUID, events: list[Notification]) -> Aggregate:
        aggregate = self._kept.pop(key, None)
        kept_version = 0 if aggregate is None else aggregate.version
        if kept_version == events[0].originator_version - 1:
            aggregate = fold(aggregate, map(self.ledger.mapper.to_domain_event, events))
        else:
            self.reads += 1
            aggregate = self.ledger.repository.get(
                key, version=events[-1].originator_version, projector_func=fold
            )
        assert isinstance(aggregate, BaseAggregate)
        self._kept[key] = aggregate
        return aggregate

    def _trim(self) -> None:
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


def _uuid(value: object) -> UUID:
    """PostgreSQL hands back ``UUID`` objects, SQLite hex strings."""
    return value if isinstance(value, UUID) else UUID(str(value))
