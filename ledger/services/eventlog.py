"""The notification log, read-only: pages of it, their events, aggregates as of a position.

This is all the read side sees of the store (it implements
:class:`projections.ports.EventLog`): the projector follows the log through
it and never holds the write-side application.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, Notification, StoredEvent

from ledger.domain.stream import fold
from ledger.services.ports import LedgerRecorder


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

    def decode(self, stored: StoredEvent | Notification) -> DomainEventProtocol[UUID]:
        return self._mapper.to_domain_event(stored)

    def aggregates(self, ids: Sequence[UUID], up_to: int | None = None) -> dict[UUID, Any]:
        """Several aggregates from one query (those with no events are absent),
        optionally as they stood at notification ``up_to``."""
        if not ids:
            return {}
        found: dict[UUID, Any] = {}
        for stored in self._recorder.select_streams(ids, up_to):
            event = self._mapper.to_domain_event(stored)
            found[event.originator_id] = fold(found.get(event.originator_id), [event])
        return found
