"""Four ways the store once broke the library's promises, each pinned by a test.

All four failed before the persistence refactor (issue 9): the SQLite recorder
dropped the library's ``tracking=`` keyword; a page read on PostgreSQL never
retried after a dropped connection; ``POSTGRES_ENABLE_DB_FUNCTIONS=y`` in the
environment silently dropped tracking records and checkpoints; the in-memory
recorder accepted two positions of one upstream in a call and a position that
went backwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.memory import MemoryLedgerRecorder
from ledger.adapters.persistence.postgres import PostgresLedgerRecorder, PostgresStore
from ledger.adapters.persistence.sqlite import SQLiteLedgerRecorder
from ledger.bootstrap import open_ledger
from ledger.services.ports import Checkpoint
from tests.builders import Timeline, din
from tests.integration.support import stored_facts


def _event(number: int) -> StoredEvent:
    return StoredEvent(uuid4(), 1, "topic", f"state-{number}".encode())


def test_sqlite_records_the_librarys_own_tracking_keyword(tmp_path: Path) -> None:
    recorder = SQLiteLedgerRecorder(SQLiteDatastore(str(tmp_path / "ledger.db")))
    recorder.create_table()
    recorder.insert_events([_event(1)], tracking=Tracking("upstream", 5))
    assert recorder.max_tracking_id("upstream") == 5
    with pytest.raises(IntegrityError):  # a lower position later is refused
        recorder.insert_events([_event(2)], tracking=Tracking("upstream", 4))
    assert recorder.max_notification_id() == 1


@pytest.fixture
def pg_datastore(pg_url: str) -> Iterator[PostgresDatastore]:
    store = PostgresStore(pg_url)
    store.prepare()
    datastore = PostgresDatastore(
        dbname=store.dbname,
        host=store.host,
        port=str(store.port),
        user=store.user,
        password=store.password,
        schema=store.schema,
        pool_size=1,
        max_overflow=0,
        pre_ping=False,  # a dead pooled connection is found only by using it
    )
    yield datastore
    datastore.close()


def test_a_postgres_page_read_survives_a_dropped_connection(
    pg_datastore: PostgresDatastore, pg_url: str
) -> None:
    recorder = PostgresLedgerRecorder(pg_datastore, events_table_name="bloodledger_events")
    recorder.create_table()
    recorder.insert_events([_event(1), _event(2)])
    with pg_datastore.get_connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(PostgresStore(pg_url).conninfo(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    page = recorder.select_notifications(start=1, limit=10)  # the projector's page read
    assert [n.id for n in page] == [1, 2]


def test_an_operators_stray_variables_change_nothing_recorded(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("POSTGRES_ENABLE_DB_FUNCTIONS", "BLOODLEDGER_POSTGRES_ENABLE_DB_FUNCTIONS"):
        monkeypatch.setenv(name, "y")
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("COMPRESSOR_TOPIC", "zlib")
    checkpoint = Checkpoint("kafka:events:0", 1, 41, "f" * 32)
    ledger = open_ledger(store_for(pg_url))
    try:
        ledger.record(
            Timeline(din=din(7)).transfused_cleanly().facts,
            [Tracking("kafka:events:0", 41)],
            checkpoints=[checkpoint],
        )
    finally:
        ledger.close()
    monkeypatch.undo()
    reopened = open_ledger(store_for(pg_url))  # a clean environment sees the same store
    try:
        assert reopened.position("kafka:events:0") == 41
        assert reopened.checkpoint("kafka:events:0") == checkpoint
        assert len(stored_facts(reopened)) == 12
    finally:
        reopened.close()


def test_memory_refuses_two_positions_of_one_upstream_in_a_call() -> None:
    recorder = MemoryLedgerRecorder()
    with pytest.raises(IntegrityError):
        recorder.insert_events([_event(1)], trackings=[Tracking("a", 5), Tracking("a", 5)])
    assert recorder.max_tracking_id("a") is None
    assert recorder.max_notification_id() is None


def test_memory_refuses_a_position_going_backwards() -> None:
    recorder = MemoryLedgerRecorder()
    with pytest.raises(IntegrityError):
        recorder.insert_events([_event(1)], trackings=[Tracking("a", 9), Tracking("a", 3)])
    recorder.insert_events([_event(2)], trackings=[Tracking("a", 9)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([_event(3)], trackings=[Tracking("b", 1), Tracking("a", 8)])
    assert (recorder.max_tracking_id("a"), recorder.max_tracking_id("b")) == (9, None)
    assert recorder.max_notification_id() == 1
