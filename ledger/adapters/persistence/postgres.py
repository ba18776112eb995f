"""The PostgreSQL backend: the production store, and every statement it runs.

``postgresql://user[:password]@host[:port]/dbname[?schema=name]``. The
``eventsourcing`` library's PostgreSQL recorders keep the stored events
(``bloodledger_events``) and tracking records (``bloodledger_tracking``),
and take ``LOCK TABLE ... IN EXCLUSIVE MODE`` on every insert so that commit
order is notification-id order; this module keeps that write path and adds
Kafka checkpoints, binary batch inserts, one-index-lookup stream reads, and
the read models' tables (``bl_*``, tracked in ``projections_tracking``).
Every identifier is quoted with :mod:`psycopg.sql`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import (
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType, get_topic, retry
from psycopg import Cursor, sql
from psycopg.rows import DictRow, tuple_row

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

#: Advisory-lock key under which processes create tables (any fixed 64-bit number).
DDL_LOCK_KEY = 0x626C6F6F646C6467
#: ``bigint``'s largest value: no bound on the notification id.
NO_LIMIT = 2**63 - 1


class PostgresStore(Store):
    """A schema of a PostgreSQL database (``public`` unless the URL names one)."""

    SCHEMES = ("postgresql", "postgres")

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        self.dbname = parts.path.lstrip("/")
        if not self.dbname:
            msg = "postgresql store URL needs a database: postgresql://user@host:5432/dbname"
            raise ValueError(msg)
        self.schema = parse_qs(parts.query).get("schema", ["public"])[0]
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5432
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")

    def library_env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": get_topic(PostgresLedgerFactory),
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "2",
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            # The library's database functions insert without the recorder's hook,
            # which would drop every tracking record and checkpoint: always off.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }

    def secrets(self) -> tuple[str, ...]:
        return (self.password,) if self.password else ()

    def audit_tables(self) -> AuditStore:
        env = Environment("audit", self.library_env())
        return PostgresAuditTables(PostgresLedgerFactory(env).datastore)

    def access_tables(self) -> AccessTables:
        """The tokens and access log (the schema made first: a fresh store has none)."""
        env = Environment("access", self.library_env())
        with self.ddl_lock():
            self.prepare()
            return PostgresAccessTables(PostgresLedgerFactory(env).datastore)

    def notice_outbox(self) -> NoticeOutbox:
        """The outbox on connections of its own (the schema and table made first)."""
        env = Environment("notices", self.library_env())
        with self.ddl_lock():
            self.prepare()
            datastore = PostgresLedgerFactory(env).datastore
            with datastore.transaction(commit=True) as curs:
                for statement in _notices_ddl(datastore.schema):
                    curs.execute(statement)
        return PostgresNoticeOutbox(datastore, owns_datastore=True)

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=5)
        except psycopg.Error as error:
            raise self.unavailable(error) from None

    def exists(self) -> bool:
        table = f"{self.schema}.bloodledger_events"
        with self._connect() as conn:
            row = conn.execute(
                "SELECT to_regclass(%s)", (sql.Identifier(*table.split(".")).as_string(conn),)
            ).fetchone()
        return row is not None and row[0] is not None

    def check_writable(self) -> None:
        with self._connect():
            pass

    def conninfo(self) -> str:
        """The libpq connection string."""
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user or None,
            password=self.password or None,
            dbname=self.dbname,
        )

    def prepare(self) -> None:
        """Create the schema named in the URL (the library creates only tables)."""
        if self.schema == "public":
            return
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )

    @contextmanager
    def ddl_lock(self) -> Iterator[None]:
        """Two workers creating the library's tables in a fresh schema at the same
        moment race in the catalog ("tuple concurrently updated"); a session
        advisory lock makes the second wait instead."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK_KEY,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK_KEY,))

    def redacted(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"postgresql://{user}{self.host}:{self.port}/{self.dbname}?schema={self.schema}"


def _notices_ddl(schema: str) -> list[sql.Composed]:
    """The outbox's table and indexes in ``schema``, every name quoted."""
    return [
        sql.SQL(template).format(
            notices=sql.Identifier(schema, NOTICES), index=sql.Identifier(index)
        )
        for template, index in notices_ddl("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
    ]


def _fact_id_columns(fact_ids: Sequence[FactId]) -> tuple[list[str], list[UUID], list[int]]:
    return (
        [f.event_id for f in fact_ids],
        [f.originator_id for f in fact_ids],
        [f.originator_version for f in fact_ids],
    )


class PostgresLedgerRecorder(PostgresProcessRecorder, LedgerRecorder):
    """The library's PostgreSQL process recorder, taking a whole poll per transaction."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        if datastore.enable_db_functions:
            msg = "the ledger's recorder cannot use the library's database insert functions"
            raise ValueError(msg)
        super().__init__(datastore, **kwargs)
        schema = datastore.schema
        events = sql.Identifier(schema, self.events_table_name)
        prefix = self.events_table_name.removesuffix("_events")
        checkpoints = sql.Identifier(schema, f"{prefix}_kafka_checkpoints")
        fact_ids = sql.Identifier(schema, f"{prefix}_fact_ids")
        self.sql_create_statements += [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (partition_key TEXT PRIMARY KEY, "
                "generation INTEGER NOT NULL, record_offset BIGINT NOT NULL, "
                "fingerprint TEXT NOT NULL)"
            ).format(checkpoints),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (event_id TEXT PRIMARY KEY, "
                "originator_id UUID NOT NULL, originator_version BIGINT NOT NULL)"
            ).format(fact_ids),
            *_notices_ddl(schema),
        ]
        self._insert_notices = sql.SQL(INSERT_NOTICE).format(
            notices=sql.Identifier(schema, NOTICES),
            **{f: sql.Placeholder(f) for f in NOTICE_FIELDS},
        )
        insert_fact_ids = sql.SQL(
            "INSERT INTO {} (event_id, originator_id, originator_version) "
            "SELECT * FROM unnest(%b::text[], %b::uuid[], %b::bigint[])"
        ).format(fact_ids)
        self._insert_fact_ids = insert_fact_ids
        self._backfill_fact_ids = insert_fact_ids + sql.SQL(" ON CONFLICT DO NOTHING")
        self._select_fact_ids = sql.SQL(
            "SELECT event_id, originator_id, originator_version FROM {} WHERE event_id = ANY(%s)"
        ).format(fact_ids)
        self._upsert_checkpoint = sql.SQL(
            "INSERT INTO {} (partition_key, generation, record_offset, fingerprint) "
            "VALUES (%(partition_key)s, %(generation)s, %(offset)s, %(fingerprint)s) "
            "ON CONFLICT (partition_key) DO UPDATE SET generation = EXCLUDED.generation, "
            "record_offset = EXCLUDED.record_offset, fingerprint = EXCLUDED.fingerprint"
        ).format(checkpoints)
        self._select_checkpoint = sql.SQL(
            "SELECT generation, record_offset, fingerprint FROM {} WHERE partition_key = %s"
        ).format(checkpoints)
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
        self._select_tails = sql.SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%s::uuid[], %s::int[]) AS wanted(id, after) CROSS JOIN LATERAL ("
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = wanted.id AND originator_version > wanted.after "
            "OFFSET 0) AS e ORDER BY e.originator_id, e.originator_version"
        ).format(events)
        self._select_page = sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
        ).format(events)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """The fact index, positions and checkpoints, in the transaction the library
        opened for the events."""
        if fact_ids := fact_ids_of(kwargs):
            curs.execute(self._insert_fact_ids, _fact_id_columns(fact_ids))
        for tracking in trackings_of(kwargs):
            self._insert_tracking(curs, tracking)
        if checkpoints := checkpoints_of(kwargs):
            curs.executemany(self._upsert_checkpoint, [vars(c) for c in checkpoints])
        if notices := notices_of(kwargs):
            curs.executemany(self._insert_notices, [notice_row(n) for n in notices])

    def notice_outbox(self) -> NoticeOutbox:
        return PostgresNoticeOutbox(self.datastore, owns_datastore=False)

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

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_fact_ids(self, event_ids: Sequence[str]) -> dict[str, FactId]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_fact_ids, (list(event_ids),))
            rows = curs.fetchall()
        return {
            r["event_id"]: FactId(r["event_id"], r["originator_id"], r["originator_version"])
            for r in rows
        }

    def index_facts(self, fact_ids: Sequence[FactId]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._backfill_fact_ids, _fact_id_columns(fact_ids))
            self._insert_tracking(curs, Tracking(FACT_INDEX, 1))

    def checkpoint(self, partition_key: str) -> Checkpoint | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_checkpoint, (partition_key,))
            row = curs.fetchone()
        if row is None:
            return None
        return Checkpoint(
            partition_key, int(row["generation"]), int(row["record_offset"]), row["fingerprint"]
        )

    # The library's datastore turns psycopg's errors into its own classes, so
    # these are what a dropped connection raises here.
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

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_streams(
        self, originator_ids: Sequence[UUID], up_to: int | None = None
    ) -> list[StoredEvent]:
        """Every stored event of these streams (up to notification ``up_to``): one
        statement on its own (no transaction around it: one round trip, not four; the
        connection never JIT-compiles, see :class:`PostgresLedgerFactory`), rows read
        as tuples."""
        last = NO_LIMIT if up_to is None else up_to
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(self._select_streams, (list(originator_ids), last))
            rows = c.fetchall()
        return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in rows]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_stream_tails(
        self, originator_ids: Sequence[UUID], after: Sequence[int]
    ) -> list[StoredEvent]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(self._select_tails, (list(originator_ids), list(after)))
            rows = c.fetchall()
        return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in rows]


class PostgresReadModels(ReadModelTables, PostgresTrackingRecorder):
    """The read models' tables in the store's own schema."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(self._ddl())

    def _table(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.datastore.schema, table_name(table))

    def _ddl(self) -> list[Any]:
        statements: list[Any] = [
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(self._table(t), sql.SQL(columns))
            for t, columns in TABLES.items()
        ]
        statements += [
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(index_name(t, c)), self._table(t), sql.Identifier(c)
            )
            for t, c in INDEXES
        ]
        statements += [
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(covering_index_name(name, t)),
                self._table(t),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
            )
            for name, t, columns in COVERING_INDEXES
        ]
        return statements

    def _select(self, template: str, params: Mapping[str, Any], keys: str = "") -> list[Row]:
        names = {t: self._table(t) for t in TABLES}
        marks: dict[str, sql.Composable] = {p: sql.Placeholder(p) for p in params}
        if keys:
            marks["keys"] = sql.SQL("{} = ANY({})").format(
                sql.Identifier(keys), sql.Placeholder("keys")
            )
        statement = sql.SQL(template).format(**names, **marks)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, params)
            return [dict(row) for row in curs.fetchall()]

    @contextmanager
    def _transaction(self) -> Iterator[Cursor[DictRow]]:
        with self.datastore.transaction(commit=True) as curs:
            yield curs

    def _delete(self, cursor: Any, table: str, key: str, values: Sequence[str]) -> None:
        """One statement for a whole page (SQLite has no arrays: one per key there)."""
        statement = sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
            self._table(table), sql.Identifier(key)
        )
        cursor.execute(statement, (list(values),))

    def _insert(self, cursor: Any, table: str, rows: Sequence[Row]) -> None:
        """One ``COPY`` per table and page, not a statement per row."""
        if rows:
            columns = list(rows[0])
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                self._table(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])

    def _empty(self, cursor: Any, upstream: str) -> None:
        for table in TABLES:
            cursor.execute(sql.SQL("DELETE FROM {}").format(self._table(table)))
        tracking = sql.Identifier(self.datastore.schema, self.tracking_table_name)
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE application_name = %s").format(tracking), (upstream,)
        )

    def _drop(self, cursor: Any) -> None:
        for table in TABLES:
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._table(table)))


class PostgresAuditTables(AuditTables):
    """The audit log's tables in the store's own schema."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        with datastore.transaction(commit=True) as curs:
            for template, table, index in ddl("BYTEA"):
                curs.execute(
                    sql.SQL(template).format(table=self._table(table), index=sql.Identifier(index))
                )
        self._copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
            self._table("entries"), sql.SQL(ENTRY_COLUMNS)
        )

    def _table(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.datastore.schema, audit_table(table))

    def _transaction(self, commit: bool) -> AbstractContextManager[Cursor[DictRow]]:
        return self.datastore.transaction(commit=commit)

    def _render(self, template: str, params: Mapping[str, Any], keys: str = "") -> sql.Composed:
        names = {t: self._table(t) for t in AUDIT_TABLES}
        marks: dict[str, sql.Composable] = {p: sql.Placeholder(p) for p in params}
        if keys:
            marks["keys"] = sql.SQL("{} = ANY({})").format(
                sql.Identifier(keys), sql.Placeholder("keys")
            )
        return sql.SQL(template).format(**names, **marks)

    def _keys_value(self, values: Sequence[Any]) -> list[Any]:
        return list(values)

    def _rows(self, template: str, params: Mapping[str, Any], keys: str = "") -> list[Any]:
        with self._transaction(commit=False) as curs:
            values = {**params, "keys": list(params["keys"])} if keys else dict(params)
            curs.execute(self._render(template, params, keys), values)
            return [tuple(row.values()) for row in curs.fetchall()]

    def _insert_entries(self, cursor: Any, entries: Sequence[AuditEntry]) -> None:
        """One ``COPY`` for a whole seal."""
        with cursor.copy(self._copy) as copy:
            for entry in entries:
                copy.write_row(entry_row(entry))

    def close(self) -> None:
        self.datastore.close()


class PostgresAccessTables(SQLAccessTables):
    """The tokens and the access log in the store's own schema (a trigger refuses
    ``UPDATE``, ``DELETE`` and ``TRUNCATE`` of the log)."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        schema = datastore.schema
        refuse = sql.Identifier(schema, APPEND_ONLY_TRIGGER)
        with datastore.transaction(commit=True) as curs:
            for template, table in access_ddl("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"):
                curs.execute(sql.SQL(template).format(table=self._table(table)))
            curs.execute(
                sql.SQL(
                    "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION {}; END $$"
                ).format(refuse, sql.Literal(APPEND_ONLY_MESSAGE))
            )
            curs.execute(
                sql.SQL(
                    "CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE OR TRUNCATE ON {} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
                ).format(sql.Identifier(APPEND_ONLY_TRIGGER), self._table("access_log"), refuse)
            )

    def _table(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.datastore.schema, access_table(table))

    def _transaction(self, commit: bool) -> AbstractContextManager[Cursor[DictRow]]:
        return self.datastore.transaction(commit=commit)

    def _render(self, template: str, params: Mapping[str, Any]) -> sql.Composed:
        names = {t: self._table(t) for t in ACCESS_TABLES}
        return sql.SQL(template).format(**names, **{p: sql.Placeholder(p) for p in params})

    def _tuples(self, rows: Sequence[Any]) -> list[Sequence[Any]]:
        return [tuple(row.values()) for row in rows]

    def close(self) -> None:
        self.datastore.close()


class PostgresNoticeOutbox(SQLNoticeOutbox):
    """The notice outbox in the store's own schema (its rows inserted by
    :class:`PostgresLedgerRecorder`, with the quarantines)."""

    def __init__(self, datastore: PostgresDatastore, *, owns_datastore: bool) -> None:
        self.datastore = datastore
        self.owns_datastore = owns_datastore
        self._notices = sql.Identifier(datastore.schema, NOTICES)

    def _transaction(self, commit: bool) -> AbstractContextManager[Cursor[DictRow]]:
        return self.datastore.transaction(commit=commit)

    def _render(self, template: str, params: Mapping[str, Any]) -> sql.Composed:
        marks = {p: sql.Placeholder(p) for p in params}
        return sql.SQL(template).format(notices=self._notices, **marks)

    def _tuples(self, rows: Sequence[Any]) -> list[Sequence[Any]]:
        return [tuple(row.values()) for row in rows]

    def close(self) -> None:
        if self.owns_datastore:
            self.datastore.close()


class PostgresLedgerFactory(PostgresFactory):
    """The library's PostgreSQL factory, making the ledger's recorder and read models.

    Its connections never JIT-compile a query (``jit = off`` for the session, set
    before the pool makes any): the ledger's queries are index lookups whose row
    estimates are wild — a read of ten streams is costed above ``jit_above_cost`` —
    and compiling costs 100 ms where the query takes one. Per session rather than
    ``SET LOCAL`` per query, which needs a transaction: three more round trips."""

    process_recorder_class = PostgresLedgerRecorder
    tracking_recorder_class = PostgresReadModels

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        connect = self.datastore.pool.kwargs
        if isinstance(connect, dict):
            connect["options"] = f"{connect.get('options', '')} -c jit=off".strip()
