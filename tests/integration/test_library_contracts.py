"""The ``eventsourcing`` library's own contract tests, run against every recorder,
read-model store and factory the ledger defines, on SQLite, PostgreSQL and memory.

The audit trail proves the store's bytes, so the store must keep every promise
the library makes of a recorder. The library ships its contract as test cases
(``eventsourcing.tests.persistence``); they are subclassed here unmodified —
each subclass only says how to make the recorder under test. The base classes
are reached through the module, so pytest does not collect them themselves.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.popo import POPOAggregateRecorder, POPOApplicationRecorder, POPOTrackingRecorder
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteDatastore
from eventsourcing.tests import persistence as contract
from eventsourcing.utils import Environment
from psycopg import sql

from ledger.adapters.persistence.memory import (
    MemoryLedgerFactory,
    MemoryLedgerRecorder,
    MemoryStore,
)
from ledger.adapters.persistence.postgres import (
    PostgresLedgerFactory,
    PostgresLedgerRecorder,
    PostgresReadModels,
    PostgresStore,
)
from ledger.adapters.persistence.sqlite import (
    SQLiteLedgerFactory,
    SQLiteLedgerRecorder,
    SQLiteReadModels,
    SQLiteStore,
)
from tests.conftest import PG_URL

# -- where each backend's recorders live during one test ------------------------------


class _JoinsItsThreads:
    """Waits, before closing the database, for threads a case started and did not join
    (the concurrent cases leave their readers running as they return)."""

    def setUp(self) -> None:
        self._threads_before = set(threading.enumerate())
        super().setUp()  # type: ignore[misc]

    def _join_threads(self) -> None:
        for thread in set(threading.enumerate()) - self._threads_before:
            if not thread.daemon:  # the pools' own workers are daemons, and live on
                thread.join(timeout=30)


class SQLiteFile(_JoinsItsThreads):
    """A fresh SQLite file per test (the concurrent cases need a file, not ``:memory:``),
    and the environment its store URL gives the library."""

    def setUp(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.db_path = str(Path(self._dir.name) / "ledger.db")
        self._datastores: list[SQLiteDatastore] = []
        self.env = Environment("TestCase", SQLiteStore(f"sqlite:///{self.db_path}").library_env())
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self._join_threads()
        for datastore in self._datastores:
            datastore.close()
        self._dir.cleanup()

    def datastore(self) -> SQLiteDatastore:
        datastore = SQLiteDatastore(db_name=self.db_path, pool_size=100, lock_timeout=30)
        self._datastores.append(datastore)
        return datastore


class PostgresSchema(_JoinsItsThreads):
    """A fresh PostgreSQL schema per test, dropped afterwards, and the environment its
    store URL gives the library."""

    def setUp(self) -> None:
        self.store = PostgresStore(f"{PG_URL}?schema=c_{uuid.uuid4().hex[:12]}")
        self.store.prepare()
        self._datastores: list[PostgresDatastore] = []
        self.env = Environment("TestCase", self.store.library_env())
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self._join_threads()
        for datastore in self._datastores:
            datastore.close()
        with psycopg.connect(self.store.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(self.store.schema)
                )
            )

    def datastore(self) -> PostgresDatastore:
        datastore = PostgresDatastore(
            dbname=self.store.dbname,
            host=self.store.host,
            port=str(self.store.port),
            user=self.store.user,
            password=self.store.password,
            schema=self.store.schema,
            pool_size=20,
            max_overflow=20,
        )
        self._datastores.append(datastore)
        return datastore


def _sqlite_recorder(case: SQLiteFile) -> SQLiteLedgerRecorder:
    recorder = SQLiteLedgerRecorder(case.datastore())
    recorder.create_table()
    return recorder


def _postgres_recorder(case: PostgresSchema) -> PostgresLedgerRecorder:
    recorder = PostgresLedgerRecorder(
        case.datastore(), events_table_name="stored_events", tracking_table_name="tracking"
    )
    recorder.create_table()
    return recorder


# -- the ledger's recorder: an application recorder and a process recorder -------------
# (The library's aggregate-recorder case is for aggregate recorders, which return no
# notification ids; the ledger defines none.)


class TestSQLiteLedgerRecorderAsApplicationRecorder(
    SQLiteFile, contract.ApplicationRecorderTestCase[ApplicationRecorder]
):
    def create_recorder(self) -> ApplicationRecorder:
        return _sqlite_recorder(self)


class TestSQLiteLedgerRecorderAsProcessRecorder(SQLiteFile, contract.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return _sqlite_recorder(self)


class TestSQLiteLedgerRecorderNotificationIds(
    SQLiteFile, contract.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> ApplicationRecorder:
        return _sqlite_recorder(self)


class TestPostgresLedgerRecorderAsApplicationRecorder(
    PostgresSchema, contract.ApplicationRecorderTestCase[ApplicationRecorder]
):
    def create_recorder(self) -> ApplicationRecorder:
        return _postgres_recorder(self)


class TestPostgresLedgerRecorderAsProcessRecorder(PostgresSchema, contract.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return _postgres_recorder(self)


class TestPostgresLedgerRecorderNotificationIds(
    PostgresSchema, contract.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> ApplicationRecorder:
        return _postgres_recorder(self)


class TestMemoryLedgerRecorderAsApplicationRecorder(
    contract.ApplicationRecorderTestCase[ApplicationRecorder]
):
    def create_recorder(self) -> ApplicationRecorder:
        return MemoryLedgerRecorder()


class TestMemoryLedgerRecorderAsProcessRecorder(contract.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return MemoryLedgerRecorder()


class TestMemoryLedgerRecorderNotificationIds(contract.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return MemoryLedgerRecorder()


# -- the read models: tracking recorders with tables of their own ----------------------


class TestSQLiteReadModelsAsTrackingRecorder(SQLiteFile, contract.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        recorder = SQLiteReadModels(self.datastore())
        recorder.create_table()
        return recorder


class TestPostgresReadModelsAsTrackingRecorder(PostgresSchema, contract.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        recorder = PostgresReadModels(self.datastore(), tracking_table_name="projections_tracking")
        recorder.create_table()
        return recorder


# -- the factories the store URL selects ------------------------------------------------


class _AnotherSQLiteReadModels(SQLiteReadModels):
    pass


class _AnotherPostgresReadModels(PostgresReadModels):
    pass


class _AnotherTrackingRecorder(POPOTrackingRecorder):
    pass


class TestSQLiteLedgerFactory(SQLiteFile, contract.InfrastructureFactoryTestCase[Any]):
    def expected_factory_class(self) -> type[Any]:
        return SQLiteLedgerFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return SQLiteApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteReadModels

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return _AnotherSQLiteReadModels

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLiteLedgerRecorder


class TestPostgresLedgerFactory(PostgresSchema, contract.InfrastructureFactoryTestCase[Any]):
    def expected_factory_class(self) -> type[Any]:
        return PostgresLedgerFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return PostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresReadModels

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return _AnotherPostgresReadModels

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresLedgerRecorder


class TestMemoryLedgerFactory(contract.InfrastructureFactoryTestCase[Any]):
    def setUp(self) -> None:
        self.env = Environment("TestCase", MemoryStore("memory://").library_env())
        super().setUp()

    def expected_factory_class(self) -> type[Any]:
        return MemoryLedgerFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return POPOAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return POPOApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return POPOTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return _AnotherTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return MemoryLedgerRecorder
