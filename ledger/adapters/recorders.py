"""Process recorders that take a whole Kafka poll in one transaction.

The library's process recorders record one ``Tracking`` with the events of a
transaction. One Kafka poll returns records of several partitions, and each
partition is an upstream of its own; to store a whole poll in one
transaction, these subclasses also accept ``trackings=[...]`` and insert each
through the library's own ``_insert_tracking`` — so every record keeps the
library's guarantee (a position not beyond the recorded one raises
``IntegrityError`` and the whole transaction is rolled back).

They also keep, per partition, a :class:`Checkpoint`: the last record's
offset and a fingerprint of its bytes, written in the same transaction. On
(re)assignment the ingest re-reads that record and compares: a broker that
lost its storage, or a recreated topic, shows a different record (or none)
at that offset, so a changed history is detected instead of being skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent, Tracking
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteProcessRecorder,
)
from eventsourcing.utils import retry
from psycopg import Cursor, InterfaceError, OperationalError, sql
from psycopg.rows import DictRow, tuple_row


@dataclass(frozen=True)
class Checkpoint:
    """Where a partition was read to, in which generation of its history."""

    partition_key: str
    generation: int
    offset: int
    fingerprint: str


def _trackings(kwargs: dict[str, Any]) -> Sequence[Tracking]:
    trackings: Sequence[Tracking] = kwargs.get("trackings", ())
    return trackings


def _checkpoints(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    checkpoints: Sequence[Checkpoint] = kwargs.get("checkpoints", ())
    return [vars(c) for c in checkpoints]


_COLUMNS = (
    "partition_key TEXT PRIMARY KEY, generation INTEGER NOT NULL, "
    "record_offset BIGINT NOT NULL, fingerprint TEXT NOT NULL"
)
_UPSERT = (
    "INSERT INTO {table} (partition_key, generation, record_offset, fingerprint) "
    "VALUES ({p}partition_key{s}, {p}generation{s}, {p}offset{s}, {p}fingerprint{s}) "
    "ON CONFLICT (partition_key) DO UPDATE SET generation = EXCLUDED.generation, "
    "record_offset = EXCLUDED.record_offset, fingerprint = EXCLUDED.fingerprint"
)
_SELECT = (
    "SELECT generation, record_offset, fingerprint FROM {table} WHERE partition_key = {p}key{s}"
)


def _stored(originator_id: UUID, row: Any) -> StoredEvent:
    return StoredEvent(originator_id, row["originator_version"], row["topic"], bytes(row["state"]))


def _checkpoint(key: str, row: Any) -> Checkpoint | None:
    if row is None:
        return None
    return Checkpoint(
        key, int(row["generation"]), int(row["record_offset"]), str(row["fingerprint"])
    )


class SQLiteLedgerRecorder(SQLiteProcessRecorder):
    TABLE = "kafka_checkpoints"

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._upsert = _UPSERT.format(table=self.TABLE, p=":", s="")
        self._select = _SELECT.format(table=self.TABLE, p=":", s="")

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        return [*statements, f"CREATE TABLE IF NOT EXISTS {self.TABLE} ({_COLUMNS})"]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Events in one ``executemany``, then positions and checkpoints.

        The library's application recorder inserts one row per statement to
        return each notification id; nothing here uses them (rowids still
        follow insertion order), and one statement is a tenth of the ingest.
        """
        returning = SQLiteAggregateRecorder._insert_events(self, c, stored_events)
        for tracking in _trackings(kwargs):
            self._insert_tracking(c, tracking)
        if checkpoints := _checkpoints(kwargs):
            c.executemany(self._upsert, checkpoints)
        return returning

    def checkpoint(self, key: str) -> Checkpoint | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select, {"key": key})
            return _checkpoint(key, c.fetchone())

    def select_streams(
        self, originator_ids: Sequence[UUID], up_to: int | None = None
    ) -> list[StoredEvent]:
        """Every event of the given streams (notified by ``up_to``), one query per 500 ids."""
        found: list[StoredEvent] = []
        # Unary "+" keeps SQLite on the stream index (not a rowid range scan).
        limit = "" if up_to is None else f"AND +rowid <= {int(up_to)} "
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(originator_ids), 500):
                chunk = [i.hex for i in originator_ids[start : start + 500]]
                marks = ",".join("?" * len(chunk))
                statement = (
                    "SELECT originator_id, originator_version, topic, state "
                    f"FROM {self.events_table_name} WHERE originator_id IN ({marks}) {limit}"
                    "ORDER BY originator_id, originator_version"
                )
                c.execute(statement, chunk)
                found += [_stored(UUID(row[0]), row) for row in c.fetchall()]
        return found


#: ``bigint``'s largest value: no bound on the notification id.
_NO_LIMIT = 2**63 - 1


class PostgresLedgerRecorder(PostgresProcessRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        prefix = self.events_table_name.removesuffix("_events")
        table = f'"{datastore.schema}"."{prefix}_kafka_checkpoints"'
        self._upsert = _UPSERT.format(table=table, p="%(", s=")s")
        self._select = _SELECT.format(table=table, p="%(", s=")s")
        events = sql.Identifier(datastore.schema, self.events_table_name)
        self._insert_arrays = sql.SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(events)
        # One index lookup per stream, whatever the statistics say. A plain
        # "= ANY(%s)" was planned as a parallel sequential scan of the whole log
        # once the table outgrew its statistics (the ingest's table locks keep
        # autovacuum from re-analysing it during a long load: 3 s per batch at
        # 10M events), and a bound on the notification id as a BitmapAnd with
        # the log's index. "OFFSET 0" stops the planner flattening the lateral
        # subquery back into a join; "+ 0" keeps the bound off the log's index.
        self._select_streams = sql.SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%s::uuid[]) AS wanted(id) CROSS JOIN LATERAL ("
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = wanted.id AND notification_id + 0 <= %s OFFSET 0) AS e "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(events)
        self._select_page = sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
        ).format(events)
        create = f"CREATE TABLE IF NOT EXISTS {table} ({_COLUMNS})"
        self.sql_create_statements.append(sql.Composed([sql.SQL(create)]))

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """The library's insert (table lock, notify, one statement), with binary arrays.

        The library sends an array of a composite type as text, escaping every
        ``bytea`` state through regular expressions: a quarter of the ingest's
        time. Four binary arrays unnested by the server carry the same rows.
        """
        self._lock_table(curs)
        self._notify_channel(curs)
        columns = (
            [s.originator_id for s in stored_events],
            [s.originator_version for s in stored_events],
            [s.topic for s in stored_events],
            [s.state for s in stored_events],
        )
        curs.execute(self._insert_arrays, columns)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        for tracking in _trackings(kwargs):
            self._insert_tracking(curs, tracking)
        if checkpoints := _checkpoints(kwargs):
            curs.executemany(self._upsert, checkpoints)
        super()._insert_events(curs, stored_events, **kwargs)

    def checkpoint(self, key: str) -> Checkpoint | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select, {"key": key})
            return _checkpoint(key, curs.fetchone())

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """A projector's page (from ``start``, at most ``limit``) read as tuples.

        The library's query reads dict rows, a tenth of a projection rebuild;
        other selections (``stop``, ``topics``) go to the library's own.
        """
        if start is None or stop is not None or topics or not inclusive_of_start:
            selected: Sequence[Notification] = super().select_notifications(
                start, limit, stop, topics, inclusive_of_start=inclusive_of_start
            )
            return selected
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(self._select_page, (start, limit), prepare=True)
            return [
                Notification(
                    id=row[0],
                    originator_id=row[1],
                    originator_version=row[2],
                    topic=row[3],
                    state=bytes(row[4]),
                )
                for row in c.fetchall()
            ]

    def select_streams(
        self, originator_ids: Sequence[UUID], up_to: int | None = None
    ) -> list[StoredEvent]:
        """Every event of the given streams (notified by ``up_to``), in one query."""
        last = _NO_LIMIT if up_to is None else up_to
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SET LOCAL jit = off")  # compiling costs 100 ms; the query takes 1
            curs.execute(self._select_streams, (list(originator_ids), last))
            return [_stored(row["originator_id"], row) for row in curs.fetchall()]


class POPOLedgerRecorder(POPOProcessRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._checkpoints: dict[str, Checkpoint] = {}

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
        checkpoints: Sequence[Checkpoint] = kwargs.get("checkpoints", ())
        self._checkpoints.update((c.partition_key, c) for c in checkpoints)
        return notification_ids

    def checkpoint(self, key: str) -> Checkpoint | None:
        with self._database_lock:
            return self._checkpoints.get(key)

    def select_streams(
        self, originator_ids: Sequence[UUID], up_to: int | None = None
    ) -> list[StoredEvent]:
        """Every event of the given streams (notified by ``up_to``).

        The library keeps each stream's versions as positions in one list of
        all events; a position is its notification id less one.
        """
        last = _NO_LIMIT if up_to is None else up_to
        with self._database_lock:
            return [
                self._stored_events[position]
                for i in originator_ids
                for position in self._stored_events_index.get(str(i), {}).values()
                if position < last
            ]


#: The recorders that keep checkpoints (what ``BloodLedger`` may call them on).
LedgerRecorder = SQLiteLedgerRecorder | PostgresLedgerRecorder | POPOLedgerRecorder
