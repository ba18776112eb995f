"""The aggregates a projector has seen, advanced by the notifications it reads.

A notification *is* a stored event, so the projector does not need to read an
aggregate back from the store to see it at the version a page ends with: it
keeps the aggregates of recent pages in memory (bounded, least recently used)
and applies the page's events to them. It reads from the store only when
the version it keeps (none: 0) is not the one just before the page's first
event for the aggregate (evicted, or kept from before a rebuild).
Either way the aggregate handed back is exactly the one the store would give
at that version, which keeps the rows a function of the log prefix.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import Notification

from ledger.application import BloodLedger, fold


class KeptAggregates:
    """Aggregates as of the projector's position, at most ``size`` of them."""

    def __init__(self, ledger: BloodLedger, size: int) -> None:
        self.ledger = ledger
        self.size = size
        self._kept: OrderedDict[UUID, BaseAggregate[UUID]] = OrderedDict()
        self.reads = 0

    def clear(self) -> None:
        self._kept.clear()

    def advance(self, page: Sequence[Notification]) -> list[BaseAggregate[UUID]]:
        """Every aggregate the page touches, as of the page's last notification."""
        touched: dict[UUID, list[Notification]] = {}
        for notification in page:
            touched.setdefault(UUID(str(notification.originator_id)), []).append(notification)
        aggregates = [self._advance(key, events) for key, events in touched.items()]
        self._trim()
        return aggregates

    def _advance(self, key: UUID, events: list[Notification]) -> BaseAggregate[UUID]:
        aggregate = self._kept.pop(key, None)
        kept_version = 0 if aggregate is None else aggregate.version
        if kept_version == events[0].originator_version - 1:
            aggregate = fold(aggregate, map(self.ledger.mapper.to_domain_event, events))
        else:
            aggregate = self._read(key, events[-1].originator_version)
        self._kept[key] = aggregate
        return aggregate

    def _read(self, key: UUID, version: int) -> BaseAggregate[UUID]:
        self.reads += 1
        found: BaseAggregate[UUID] = self.ledger.repository.get(
            key, version=version, projector_func=fold
        )
        return found

    def _trim(self) -> None:
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
