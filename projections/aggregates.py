"""The aggregates a projector has seen, advanced by the notifications it reads.

A notification *is* a stored event, so the projector does not need to read an
aggregate back from the store to see it at the version a page ends with: it
keeps the aggregates of recent pages in memory (bounded, least recently used)
and applies the page's events to them. Every kept aggregate is as it stood
at the projector's position (``position``): each later event of it arrives
in a later page. The store is read only for what is not kept — evicted, never
seen, or kept from another position (before a rebuild) — and then *as of* the
position, so the rows stay a function of the log prefix alone.

Bounded twice: by count, and by the events the kept aggregates hold between them
(an aggregate grows with every fact, a unit checked at the bedside by one fact a
check), so that memory stays bounded however long the projector runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Sequence
from uuid import UUID

from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import Notification

from ledger.domain.stream import fold
from projections.ports import EventLog

Aggregate = BaseAggregate[UUID]


#: Events the kept aggregates may hold between them, by default, for each one they
#: may number.
EVENTS_PER_KEPT = 30


class KeptAggregates:
    """Aggregates as of the projector's position, at most ``size`` of them, holding
    at most ``events`` events between them (by default 30 for each of ``size``)."""

    def __init__(self, log: EventLog, size: int, events: int | None = None) -> None:
        self.log = log
        self.size = size
        self.events = events if events is not None else size * EVENTS_PER_KEPT
        self.position = 0
        self._kept: OrderedDict[UUID, Aggregate] = OrderedDict()
        #: Each kept aggregate's version when kept, and their sum.
        self._weights: dict[UUID, int] = {}
        self.held = 0
        #: Aggregates read from the store (what keeping them saves).
        self.reads = 0

    def follow_from(self, position: int) -> None:
        """The projector continues after ``position``: forget anything kept at another."""
        if position != self.position:
            self._kept.clear()
            self._weights.clear()
            self.held = 0
            self.position = position

    def advance(self, page: Sequence[Notification]) -> list[Aggregate]:
        """Every aggregate the page touches, as of the page's last notification."""
        touched: dict[UUID, list[Notification]] = {}
        for notification in page:
            touched.setdefault(_uuid(notification.originator_id), []).append(notification)
        self.position = page[-1].id
        read = self._read(
            [key for key, events in touched.items() if not self._follows(key, events)]
        )
        advanced: list[Aggregate] = []
        for key, events in touched.items():
            aggregate = read.get(key)
            if aggregate is None:
                events_now = map(self.log.decode, events)
                aggregate = fold(self._kept.get(key), events_now)
            self._keep(key, aggregate)
            advanced.append(aggregate)
        self._trim()
        return advanced

    def as_of_position(self, keys: Collection[UUID]) -> dict[UUID, Aggregate]:
        """The given aggregates as of the position (absent: none existed by then)."""
        found = {key: self._kept[key] for key in keys if key in self._kept}
        found.update(self._read([key for key in keys if key not in found]))
        for key, aggregate in found.items():
            self._keep(key, aggregate)
        self._trim()
        return found

    def _follows(self, key: UUID, events: list[Notification]) -> bool:
        """Whether the kept aggregate (none: version 0) is just before these events."""
        kept = self._kept.get(key)
        return (0 if kept is None else kept.version) == events[0].originator_version - 1

    def _read(self, keys: list[UUID]) -> dict[UUID, Aggregate]:
        """Aggregates from the store as of the position: one query for a page's misses."""
        if not keys:
            return {}
        self.reads += len(keys)
        found: dict[UUID, Aggregate] = self.log.aggregates(keys, up_to=self.position)
        return found

    def _keep(self, key: UUID, aggregate: Aggregate) -> None:
        self._kept[key] = aggregate
        self._kept.move_to_end(key)
        self.held += aggregate.version - self._weights.get(key, 0)
        self._weights[key] = aggregate.version

    def _trim(self) -> None:
        while self._kept and (len(self._kept) > self.size or self.held > self.events):
            key, _ = self._kept.popitem(last=False)
            self.held -= self._weights.pop(key)


def _uuid(value: object) -> UUID:
    """PostgreSQL hands back ``UUID`` objects, SQLite hex strings."""
    return value if isinstance(value, UUID) else UUID(str(value))
