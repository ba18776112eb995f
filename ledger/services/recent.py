"""The aggregates a ledger wrote last, kept in memory for its next write.

A batch of the ingest mostly touches units the batches before it touched; a bedside
check mostly re-checks a unit checked a little earlier. Keeping each aggregate as it
was last written saves reading and folding its whole stream again: the ingest writes
through a kept one (a stale one fails its write on the stream's version), a check
reads only what was stored after it (:meth:`~ledger.services.eventlog.EventLog.current`).

Bounded twice, least recently used dropped first: by count, and by the events the
kept aggregates hold — an aggregate grows with every fact (a unit checked fifty
times holds fifty more), so a count alone would let memory grow with the facts.

Threads share it (the HTTP server's routes): an aggregate is *taken* out while one
thread works on it, so no two threads ever change the same copy, and kept again
only once what was done to it is stored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from ledger.domain.donation import Donation
from ledger.domain.unit import BloodUnit

Kept = Donation | BloodUnit


class RecentAggregates:
    """At most ``size`` aggregates holding at most ``events`` events between them."""

    def __init__(self, size: int, events: int) -> None:
        self.size = size
        self.events = events
        self._kept: OrderedDict[UUID, tuple[Kept, int]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def __contains__(self, aggregate_id: object) -> bool:
        return aggregate_id in self._kept

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def held(self) -> int:
        """Events held by the kept aggregates (as they were when kept)."""
        return self._held

    def take(self, aggregate_id: UUID) -> Kept | None:
        """The kept aggregate, no longer kept (``None``: none is)."""
        with self._lock:
            found = self._kept.pop(aggregate_id, None)
            if found is None:
                return None
            self._held -= found[1]
            return found[0]

    def keep(self, aggregates: Iterable[Kept]) -> None:
        """Keep these, as they are now (written), dropping the least recently used
        beyond either bound."""
        with self._lock:
            for aggregate in aggregates:
                previous = self._kept.pop(aggregate.id, None)
                if previous is not None:
                    self._held -= previous[1]
                self._kept[aggregate.id] = (aggregate, aggregate.version)
                self._held += aggregate.version
            while self._kept and (len(self._kept) > self.size or self._held > self.events):
                _, (_, weight) = self._kept.popitem(last=False)
                self._held -= weight
