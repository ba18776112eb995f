"""The notification log, read-only: pages of it, their events, aggregates as of a position.

This is all the read side sees of the store (it implements
:class:`projections.ports.EventLog`): the projector follows the log through
it and never holds the write-side application.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, Notification, StoredEvent

from ledger.domain.stream import fold
from ledger.services.ports import LedgerRecorder


def recorded_at(event: DomainEventProtocol[UUID]) -> datetime:
    """When the ledger recorded an event (the library's ``timestamp``)."""
    timestamp = getattr(event, "timestamp", None)
    if not isinstance(timestamp, datetime):
        msg = f"{type(event).__name__} has no recording time"
        raise TypeError(msg)
    return timestamp


class EventLog:
    """Reads one ledger's stored events; writes nothing."""

    def __init__(self, recorder: LedgerRecorder, mapper: Mapper[UUID], name: str) -> None:
        self._recorder = recorder
        self._mapper = mapper
        #: The tracking name of this log for whoever follows it.
        self.name = name

    def page(self, start: int, limit: int) -> Sequence[Notification]:
        """At most ``limit`` notifications from id ``start`` on."""
        return self._recorder.select_notifications(start=start, limit=limit)

    def head(self) -> int:
        """The last notification id (0 if the log is empty)."""
        return self._recorder.max_notification_id() or 0

    def stored(self, streams: Sequence[UUID]) -> dict[tuple[UUID, int], StoredEvent]:
        """Every stored event of these streams, as stored (bytes untouched), by
        (stream, version): what the audit log's leaves are made of."""
        return {
            (UUID(str(s.originator_id)), s.originator_version): s
            for s in self._recorder.select_streams(streams)
        }

    def decode(self, stored: StoredEvent | Notification) -> DomainEventProtocol[UUID]:
        return self._mapper.to_domain_event(stored)

    def aggregates(
        self, ids: Sequence[UUID], up_to: int | None = None, known_at: datetime | None = None
    ) -> dict[UUID, Any]:
        """Several aggregates from one query (those with no events are absent),
        optionally as they stood at notification ``up_to``, or as the ledger knew
        them at ``known_at`` (each stream up to its first event recorded later)."""
        if not ids:
            return {}
        found: dict[UUID, Any] = {}
        cut: set[UUID] = set()
        for stored in self._recorder.select_streams(ids, up_to):
            event = self._mapper.to_domain_event(stored)
            stream = event.originator_id
            if known_at is not None and (stream in cut or recorded_at(event) > known_at):
                cut.add(stream)
                continue
            found[stream] = fold(found.get(stream), [event])
        return found

    def current(self, ids: Sequence[UUID], kept: dict[UUID, Any]) -> dict[UUID, Any]:
        """These aggregates as stored now (those with no events are absent), in one
        query: each one in ``kept`` — a copy held in memory, changed here in place —
        brought up to date with the events stored after its version, the others read
        whole. What another process appended is read; nothing is assumed."""
        found = {i: kept[i] for i in ids if i in kept}
        versions = [found[i].version if i in found else 0 for i in ids]
        for stored in self._recorder.select_stream_tails(ids, versions):
            event = self._mapper.to_domain_event(stored)
            stream = event.originator_id
            found[stream] = fold(found.get(stream), [event])
        return found


class KnownAt:
    """The log as the ledger knew it at ``known_at``: each stream up to its first event
    recorded later (the read side's :class:`~projections.ports.EventLog` too).

    Projected into read models of its own, it answers "what did the ledger know
    then?" for questions the read models answer (trace, inventory, alerts).
    """

    def __init__(self, log: EventLog, known_at: datetime) -> None:
        self._log = log
        self.known_at = known_at
        self.name = log.name
        self._cut: set[UUID] = set()

    def _known(self, notification: Notification) -> bool:
        stream = UUID(str(notification.originator_id))
        if stream in self._cut or recorded_at(self._log.decode(notification)) > self.known_at:
            self._cut.add(stream)
            return False
        return True

    def page(self, start: int, limit: int) -> Sequence[Notification]:
        """Up to ``limit`` known notifications from id ``start`` on (fewer only at the end)."""
        found: list[Notification] = []
        while len(found) < limit and (page := self._log.page(start, limit)):
            found += [n for n in page if self._known(n)]
            start = page[-1].id + 1
        return found[:limit]

    def head(self) -> int:
        return self._log.head()

    def decode(self, stored: StoredEvent | Notification) -> DomainEventProtocol[UUID]:
        return self._log.decode(stored)

    def aggregates(self, ids: Sequence[UUID], up_to: int | None = None) -> dict[UUID, Any]:
        return self._log.aggregates(ids, up_to, known_at=self.known_at)
