"""The SQLite backend: the embedded default, and every statement it runs.

``sqlite:///path/to/ledger.db``. The ``eventsourcing`` library's SQLite
recorders keep the stored events (``stored_events``, notification id =
``rowid``) and the tracking records (``tracking``); this module adds the
Kafka checkpoints (``kafka_checkpoints``), a batched insert, reads of several
streams at once, and the read models' tables (``bl_*``) in the same file.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.sqlite import (
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteProcessRecorder,
    SQLiteTrackingRecorder,
)
from eventsourcing.utils import Environment, get_topic

from ledger.adapters.persistence.access import (
    APPEND_ONLY_MESSAGE,
    APPEND_ONLY_TRIGGER,
    SQLAccessTables,
)
from ledger.adapters.persistence.access import TABLES as ACCESS_TABLES
from ledger.adapters.persistence.access import ddl as access_ddl
from ledger.adapters.persistence.access import table_name as access_table
from ledger.adapters.persistence.audit import ENTRY_COLUMNS, AuditTables, ddl, entry_row
from ledger.adapters.persistence.audit import TABLES as AUDIT_TABLES
from ledger.adapters.persistence.audit import table_name as audit_table
from ledger.adapters.persistence.base import (
    COVERING_INDEXES,
    INDEXES,
    TABLES,
    Checkpoint,
    FactId,
    LedgerRecorder,
    ReadModelTables,
    Store,
    StoreUnavailable,
    checkpoints_of,
    covering_index_name,
    fact_ids_of,
    index_name,
    notices_of,
    table_name,
    trackings_of,
)
from ledger.adapters.persistence.notices import FIELDS as NOTICE_FIELDS
from ledger.adapters.persistence.notices import INSERT as INSERT_NOTICE
from ledger.adapters.persistence.notices import TABLE as NOTICES
from ledger.adapters.persistence.notices import SQLNoticeOutbox, notice_row
from ledger.adapters.persistence.notices import ddl as notices_ddl
from ledger.services.ports import (
    FACT_INDEX,
    AccessTables,
    AuditEntry,
    AuditStore,
    NoticeOutbox,
)
from projections.rows import Row

#: Seconds a writer waits for another's lock before giving up.
LOCK_TIMEOUT_S = 30
#: Stream ids per query when reading several streams (SQLite's parameter limit is 32766).
STREAMS_PER_QUERY = 500
#: WAL pages written before SQLite copies them back into the database (its default: 1,000).
#: Every batch dirties pages all over the random-keyed indexes (stream ids, event ids);
#: checkpointing a tenth as often made the ingest about 9 % faster, for a WAL of up to
#: ~40 MB between checkpoints.
WAL_AUTOCHECKPOINT_PAGES = 10_000


def quote(identifier: str) -> str:
    """An SQL identifier, quoted as SQLite (and the SQL standard) quote it."""
    return '"' + identifier.replace('"', '""') + '"'


def _fact_id_rows(fact_ids: Sequence[FactId]) -> list[tuple[str, str, int]]:
    return [(event_id, stream.hex, version) for event_id, stream, version in fact_ids]


def _notices_ddl() -> list[str]:
    """The outbox's table and indexes, as SQLite quotes them."""
    return [
        template.format(notices=quote(NOTICES), index=quote(index))
        for template, index in notices_ddl("INTEGER PRIMARY KEY AUTOINCREMENT")
    ]


def _hex(originator_id: UUID | str) -> str:
    """How the library stores a UUID stream id in SQLite (text ids as they are)."""
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


class SQLiteStore(Store):
    """``sqlite:///ledger.db``: one file holds the events and the read models."""

    SCHEMES = ("sqlite",)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            msg = "sqlite store URL needs a file path: sqlite:///ledger.db"
            raise ValueError(msg)
        self.path = Path(path)

    def exists(self) -> bool:
        if not self.path.is_file():
            return False
        uri = f"{self.path.resolve().as_uri()}?mode=ro"  # reading only: never creates a file
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                found = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stored_events'"
                ).fetchone()
        except sqlite3.DatabaseError as error:  # e.g. "file is not a database"
            raise self.unavailable(error) from None
        return found is not None

    def check_writable(self) -> None:
        folder = self.path.parent
        if not folder.is_dir():
            raise StoreUnavailable(f"{self.redacted()}: the folder {folder} does not exist")
        self.exists()  # a file that is not a SQLite database is refused here

    def audit_tables(self) -> AuditStore:
        env = Environment("audit", self.library_env())
        return SQLiteAuditTables(SQLiteLedgerFactory(env).datastore)

    def access_tables(self) -> AccessTables:
        env = Environment("access", self.library_env())
        return SQLiteAccessTables(SQLiteLedgerFactory(env).datastore)

    def notice_outbox(self) -> NoticeOutbox:
        datastore = SQLiteLedgerFactory(Environment("notices", self.library_env())).datastore
        with datastore.transaction(commit=True) as c:
            for statement in _notices_ddl():
                c.execute(statement)
        return SQLiteNoticeOutbox(datastore, owns_datastore=True)

    def library_env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": get_topic(SQLiteLedgerFactory),
            "SQLITE_DBNAME": str(self.path),
            "SQLITE_LOCK_TIMEOUT": str(LOCK_TIMEOUT_S),
        }


class SQLiteLedgerRecorder(SQLiteProcessRecorder, LedgerRecorder):
    """The library's SQLite process recorder, taking a whole poll per transaction."""

    CHECKPOINTS = "kafka_checkpoints"
    FACT_IDS = "fact_ids"

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        events, checkpoints = quote(self.events_table_name), quote(self.CHECKPOINTS)
        fact_ids = quote(self.FACT_IDS)
        self._insert_fact_ids = f"INSERT INTO {fact_ids} VALUES (?, ?, ?)"
        self._backfill_fact_ids = f"INSERT OR IGNORE INTO {fact_ids} VALUES (?, ?, ?)"
        self._select_fact_ids = (
            f"SELECT event_id, originator_id, originator_version FROM {fact_ids} "
            "WHERE event_id IN (SELECT value FROM json_each(?))"
        )
        self._insert_many = (
            f"INSERT INTO {events} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)"
        )
        self._last_rowid = f"SELECT MAX(rowid) FROM {events}"
        self._insert_notices = INSERT_NOTICE.format(
            notices=quote(NOTICES), **{f: f":{f}" for f in NOTICE_FIELDS}
        )
        self._checkpoint_pages = f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}"
        self._upsert_checkpoint = (
            f"INSERT INTO {checkpoints} (partition_key, generation, record_offset, fingerprint) "
            "VALUES (:partition_key, :generation, :offset, :fingerprint) "
            "ON CONFLICT (partition_key) DO UPDATE SET generation = excluded.generation, "
            "record_offset = excluded.record_offset, fingerprint = excluded.fingerprint"
        )
        self._select_checkpoint = (
            f"SELECT generation, record_offset, fingerprint FROM {checkpoints} "
            "WHERE partition_key = ?"
        )
        # Unary "+" keeps SQLite on the stream index, not a scan of the rowid range.
        self._select_streams = (
            f"SELECT originator_id, originator_version, topic, state FROM {events} "
            "WHERE originator_id IN (SELECT value FROM json_each(?)) AND +rowid <= ? "
            "ORDER BY originator_id, originator_version"
        )
        self._select_tails = (
            f"SELECT e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM json_each(?) AS wanted JOIN {events} AS e "
            "ON e.originator_id = json_extract(wanted.value, '$[0]') "
            "AND e.originator_version > json_extract(wanted.value, '$[1]') "
            "ORDER BY e.originator_id, e.originator_version"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {quote(self.CHECKPOINTS)} ("
            "partition_key TEXT PRIMARY KEY, generation INTEGER NOT NULL, "
            "record_offset BIGINT NOT NULL, fingerprint TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {quote(self.FACT_IDS)} ("
            "event_id TEXT PRIMARY KEY, originator_id TEXT NOT NULL, "
            "originator_version INTEGER NOT NULL) WITHOUT ROWID",
            *_notices_ddl(),
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Events in one ``executemany``, then positions and checkpoints.

        The library inserts one row per statement to learn each notification
        id; one statement for the batch is a tenth of the ingest. The ids are
        still known: the transaction holds SQLite's write lock, so the batch's
        rowids are the last ``len(stored_events)``.
        """
        c.execute(self._checkpoint_pages)  # per connection: cheap to repeat, never forgotten
        notification_ids: list[int] = []
        if stored_events:
            rows = [
                (_hex(s.originator_id), s.originator_version, s.topic, s.state)
                for s in stored_events
            ]
            c.executemany(self._insert_many, rows)
            c.execute(self._last_rowid)
            last = int(c.fetchone()[0])
            notification_ids = list(range(last - len(rows) + 1, last + 1))
        if fact_ids := fact_ids_of(kwargs):
            c.executemany(self._insert_fact_ids, _fact_id_rows(fact_ids))
        for tracking in trackings_of(kwargs):
            self._insert_tracking(c, tracking)
        if checkpoints := checkpoints_of(kwargs):
            c.executemany(self._upsert_checkpoint, [vars(cp) for cp in checkpoints])
        if notices := notices_of(kwargs):
            c.executemany(self._insert_notices, [notice_row(n) for n in notices])
        return notification_ids

    def notice_outbox(self) -> NoticeOutbox:
        return SQLiteNoticeOutbox(self.datastore, owns_datastore=False)

    def select_fact_ids(self, event_ids: Sequence[str]) -> dict[str, FactId]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_fact_ids, (json.dumps(list(event_ids)),))
            rows = c.fetchall()
        return {row[0]: FactId(row[0], UUID(row[1]), row[2]) for row in rows}

    def index_facts(self, fact_ids: Sequence[FactId]) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(self._backfill_fact_ids, _fact_id_rows(fact_ids))
            self._insert_tracking(c, Tracking(FACT_INDEX, 1))

    def checkpoint(self, partition_key: str) -> Checkpoint | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_checkpoint, (partition_key,))
            row = c.fetchone()
        if row is None:
            return None
        return Checkpoint(partition_key, int(row[0]), int(row[1]), str(row[2]))

    def select_streams(
        self, originator_ids: Sequence[UUID], up_to: int | None = None
    ) -> list[StoredEvent]:
        last = 2**63 - 1 if up_to is None else up_to
        found: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(originator_ids), STREAMS_PER_QUERY):
                chunk = [i.hex for i in originator_ids[start : start + STREAMS_PER_QUERY]]
                c.execute(self._select_streams, (json.dumps(chunk), last))
                found += [
                    StoredEvent(UUID(row[0]), row[1], row[2], bytes(row[3])) for row in c.fetchall()
                ]
        return found

    def select_stream_tails(
        self, originator_ids: Sequence[UUID], after: Sequence[int]
    ) -> list[StoredEvent]:
        wanted = [[i.hex, version] for i, version in zip(originator_ids, after, strict=True)]
        found: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), STREAMS_PER_QUERY):
                chunk = wanted[start : start + STREAMS_PER_QUERY]
                c.execute(self._select_tails, (json.dumps(chunk),))
                found += [
                    StoredEvent(UUID(row[0]), row[1], row[2], bytes(row[3])) for row in c.fetchall()
                ]
        return found


class SQLiteReadModels(ReadModelTables, SQLiteTrackingRecorder):
    """The read models' tables in the store's own SQLite file."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self._ddl()]

    def _ddl(self) -> list[Any]:
        statements = [
            f"CREATE TABLE IF NOT EXISTS {quote(table_name(t))} ({columns})"
            for t, columns in TABLES.items()
        ]
        statements += [
            f"CREATE INDEX IF NOT EXISTS {quote(index_name(t, c))} "
            f"ON {quote(table_name(t))} ({quote(c)})"
            for t, c in INDEXES
        ]
        statements += [
            f"CREATE INDEX IF NOT EXISTS {quote(covering_index_name(name, t))} "
            f"ON {quote(table_name(t))} ({', '.join(map(quote, columns))})"
            for name, t, columns in COVERING_INDEXES
        ]
        return statements

    def _render(self, template: str, params: Mapping[str, Any], keys: str) -> str:
        names = {t: quote(table_name(t)) for t in TABLES}
        marks = {p: f":{p}" for p in params}
        if keys:
            marks["keys"] = f"{quote(keys)} IN (SELECT value FROM json_each(:keys))"
        return template.format(**names, **marks)

    def _select(self, template: str, params: Mapping[str, Any], keys: str = "") -> list[Row]:
        values = {**params, "keys": json.dumps(params["keys"])} if keys else params
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._render(template, params, keys), values)
            return [dict(row) for row in c.fetchall()]

    @contextmanager
    def _transaction(self) -> Iterator[SQLiteCursor]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    def _delete(self, cursor: Any, table: str, key: str, values: Sequence[str]) -> None:
        statement = f"DELETE FROM {quote(table_name(table))} WHERE {quote(key)} = ?"
        cursor.executemany(statement, [(value,) for value in values])

    def _insert(self, cursor: Any, table: str, rows: Sequence[Row]) -> None:
        if rows:
            columns = list(rows[0])
            names = ", ".join(quote(c) for c in columns)
            marks = ", ".join(f":{c}" for c in columns)
            statement = f"INSERT INTO {quote(table_name(table))} ({names}) VALUES ({marks})"
            cursor.executemany(statement, rows)

    def _empty(self, cursor: Any, upstream: str) -> None:
        for table in TABLES:
            cursor.execute(f"DELETE FROM {quote(table_name(table))}")
        cursor.execute("DELETE FROM tracking WHERE application_name = ?", (upstream,))

    def _drop(self, cursor: Any) -> None:
        for table in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(table_name(table))}")


class SQLiteAuditTables(AuditTables):
    """The audit log's tables in the store's own SQLite file."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        with datastore.transaction(commit=True) as c:
            for template, table, index in ddl("BLOB"):
                c.execute(template.format(table=quote(audit_table(table)), index=quote(index)))
        self._insert = (
            f"INSERT INTO {quote(audit_table('entries'))} ({ENTRY_COLUMNS}) "
            f"VALUES ({', '.join('?' * len(ENTRY_COLUMNS.split(',')))})"
        )

    def _transaction(self, commit: bool) -> AbstractContextManager[SQLiteCursor]:
        return self.datastore.transaction(commit=commit)

    def _render(self, template: str, params: Mapping[str, Any], keys: str = "") -> str:
        names = {t: quote(audit_table(t)) for t in AUDIT_TABLES}
        marks = {p: f":{p}" for p in params}
        if keys:
            marks["keys"] = f"{quote(keys)} IN (SELECT value FROM json_each(:keys))"
        return template.format(**names, **marks)

    def _keys_value(self, values: Sequence[Any]) -> str:
        return json.dumps(list(values))

    def _insert_entries(self, cursor: Any, entries: Sequence[AuditEntry]) -> None:
        cursor.executemany(self._insert, [entry_row(e) for e in entries])

    def close(self) -> None:
        self.datastore.close()


class SQLiteAccessTables(SQLAccessTables):
    """The tokens and the access log in the store's own SQLite file (triggers refuse
    changing or removing an entry of the log)."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        log = quote(access_table("access_log"))
        refuse = f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
        with datastore.transaction(commit=True) as c:
            for template, table in access_ddl("INTEGER PRIMARY KEY AUTOINCREMENT"):
                c.execute(template.format(table=quote(access_table(table))))
            for event in ("UPDATE", "DELETE"):
                trigger = quote(f"{APPEND_ONLY_TRIGGER}_{event.lower()}")
                c.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {trigger} BEFORE {event} ON {log} {refuse}"
                )

    def _transaction(self, commit: bool) -> AbstractContextManager[SQLiteCursor]:
        return self.datastore.transaction(commit=commit)

    def _render(self, template: str, params: Mapping[str, Any]) -> str:
        names = {t: quote(access_table(t)) for t in ACCESS_TABLES}
        return template.format(**names, **{p: f":{p}" for p in params})

    def _tuples(self, rows: Sequence[Any]) -> list[Sequence[Any]]:
        return list(rows)

    def close(self) -> None:
        self.datastore.close()


class SQLiteNoticeOutbox(SQLNoticeOutbox):
    """The notice outbox in the store's own SQLite file (its rows inserted by
    :class:`SQLiteLedgerRecorder`, with the quarantines)."""

    def __init__(self, datastore: SQLiteDatastore, *, owns_datastore: bool) -> None:
        self.datastore = datastore
        self.owns_datastore = owns_datastore

    def _transaction(self, commit: bool) -> AbstractContextManager[SQLiteCursor]:
        return self.datastore.transaction(commit=commit)

    def _render(self, template: str, params: Mapping[str, Any]) -> str:
        return template.format(notices=quote(NOTICES), **{p: f":{p}" for p in params})

    def _tuples(self, rows: Sequence[Any]) -> list[Sequence[Any]]:
        return list(rows)

    def close(self) -> None:
        if self.owns_datastore:
            self.datastore.close()


class SQLiteLedgerFactory(SQLiteFactory):
    """The library's SQLite factory, making the ledger's recorder and read models."""

    process_recorder_class = SQLiteLedgerRecorder
    tracking_recorder_class = SQLiteReadModels
