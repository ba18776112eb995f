"""Process recorders that take several tracking records in one transaction.

The library's process recorders record one ``Tracking`` with the events of a
transaction. One Kafka poll returns records of several partitions, and each
partition is an upstream of its own; to store a whole poll in one
transaction, these subclasses also accept ``trackings=[...]`` and insert each
through the library's own ``_insert_tracking`` — so every record keeps the
library's guarantee (a position not beyond the recorded one raises
``IntegrityError`` and the whole transaction is rolled back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow


def _trackings(kwargs: dict[str, Any]) -> Sequence[Tracking]:
    trackings: Sequence[Tracking] = kwargs.get("trackings", ())
    return trackings


class SQLiteLedgerRecorder(SQLiteProcessRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        returning = super()._insert_events(c, stored_events, **kwargs)
        for tracking in _trackings(kwargs):
            self._insert_tracking(c, tracking)
        return returning


class PostgresLedgerRecorder(PostgresProcessRecorder):
    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        for tracking in _trackings(kwargs):
            self._insert_tracking(curs, tracking)
        super()._insert_events(curs, stored_events, **kwargs)


class POPOLedgerRecorder(POPOProcessRecorder):
    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        for tracking in _trackings(kwargs):
            self._assert_tracking_uniqueness(tracking)

    def _update_table(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._update_table(stored_events, **kwargs)
        for tracking in _trackings(kwargs):
            self._insert_tracking(tracking)
        return notification_ids
