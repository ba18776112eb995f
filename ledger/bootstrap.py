"""Wiring: every part of the ledger made and connected here, by constructor.

The entrypoints (the CLI now, HTTP next) ask this module for what they need;
nothing else chooses an adapter. Dependencies point inward: entrypoints ->
bootstrap -> services and projections -> domain, with the adapters
implementing the ports of :mod:`ledger.services.ports` and
:mod:`projections.ports`.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

import psycopg
from eventsourcing.persistence import PersistenceError

from ledger.adapters.avro import AvroCodec
from ledger.adapters.deadletter import KafkaDeadLetters
from ledger.adapters.kafka import GroupConsumer, GroupTimeouts, TopicReader, make_producer
from ledger.adapters.persistence import (
    ReadModelTables,
    Store,
    StoreMissing,
    open_read_models,
)
from ledger.adapters.persistence.sqlite import SQLiteStore
from ledger.adapters.transcoder import OrjsonTranscoder
from ledger.domain.lookback import DEFAULT_WINDOW_DAYS
from ledger.services.application import DEFAULT_CACHE_SIZE, BloodLedger
from ledger.services.eventlog import KnownAt
from ledger.services.ingest import Ingestor, IngestSettings
from ledger.services.lookback import AutomaticLookbacks, CaseRecorder, Lookbacks
from ledger.services.reconcile import Reconciliation, reconcile
from projections.projector import Projector
from projections.queries import LookbackIndex

log = logging.getLogger("bloodledger")


def open_ledger(
    store: Store, *, create: bool = True, cache_size: int = DEFAULT_CACHE_SIZE
) -> BloodLedger:
    """The ledger on a store. ``create``: a command that writes, which may create the
    store (and its tables); otherwise the store must already hold a ledger.

    Raises :class:`StoreMissing` or :class:`StoreUnavailable`, one line naming the store.
    """
    if not create and not store.exists():
        msg = f"no ledger is stored at {store.redacted()}"
        raise StoreMissing(msg)
    if create:
        store.check_writable()
    try:
        with store.ddl_lock():
            store.prepare()
            ledger = BloodLedger(
                store.library_env(), transcoder=OrjsonTranscoder(), cache_size=cache_size
            )
        if create:
            ledger.index_facts()
    except (PersistenceError, psycopg.Error, sqlite3.Error, OSError) as error:
        raise store.unavailable(error) from None
    return ledger


@dataclass
class ReadModels:
    """The ledger with its read models, projector and lookbacks; a context manager.

    The projector runs the ledger's lookback policy whenever it reaches the
    end of the log: a reactive donation whose donor is known opens a case by itself.
    """

    ledger: BloodLedger
    view: ReadModelTables
    projector: Projector
    lookbacks: Lookbacks

    def close(self) -> None:
        self.view.close()
        self.ledger.close()

    def __enter__(self) -> ReadModels:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_read_models_of(
    store: Store,
    *,
    create: bool = True,
    lookback_window_days: int = DEFAULT_WINDOW_DAYS,
    page_size: int = 5000,
    automatic_lookbacks: bool = True,
) -> ReadModels:
    """The ledger and everything that reads it, on one store (``automatic_lookbacks``
    off: the read models only, the ledger's own lookback policy not run)."""
    ledger = open_ledger(store, create=create)
    view = open_read_models(store)
    if view.ensure_version(ledger.name):
        log.info("read models of an older version emptied: they are built again")
    cases = CaseRecorder(ledger, LookbackIndex(view))
    policy = AutomaticLookbacks(cases, window_days=lookback_window_days)
    at_head = policy.at_head if automatic_lookbacks else None
    projector = Projector(ledger.event_log, view, page_size=page_size, at_head=at_head)
    return ReadModels(ledger, view, projector, Lookbacks(cases, projector.catch_up))


@contextmanager
def read_models_known_at(
    store: Store, known_at: datetime, *, page_size: int = 5000
) -> Iterator[ReadModelTables]:
    """Read models of the log as the ledger knew it at ``known_at``, built for the
    question in a scratch SQLite file (a rebuild's cost) and dropped afterwards."""
    ledger = open_ledger(store, create=False)
    try:
        with tempfile.TemporaryDirectory(prefix="bloodledger-known-at-") as folder:
            view = open_read_models(SQLiteStore(f"sqlite:///{folder}/known-at.db"))
            try:
                view.ensure_version(ledger.name)
                Projector(KnownAt(ledger.event_log, known_at), view, page_size=page_size).catch_up()
                yield view
            finally:
                view.close()
    finally:
        ledger.close()


@dataclass(frozen=True)
class KafkaSettings:
    """Where the events topic is and how the ingest's group behaves."""

    bootstrap: str
    topic: str
    group: str = "bloodledger-ingest"
    timeouts: GroupTimeouts = field(default_factory=GroupTimeouts)


def ingestor(
    ledger: BloodLedger,
    kafka: KafkaSettings,
    settings: IngestSettings,
    *,
    after_batch: Callable[[], object] | None = None,
) -> Ingestor:
    """An ingest worker consuming ``kafka.topic`` into ``ledger``."""
    consumer = GroupConsumer(
        kafka.bootstrap, kafka.group, kafka.timeouts, max_records=settings.max_records
    )
    dead_letters = KafkaDeadLetters(make_producer(kafka.bootstrap), TopicReader(kafka.bootstrap))
    return Ingestor(ledger, consumer, dead_letters, AvroCodec(), settings, after_batch=after_batch)


def reconcile_topic(ledger: BloodLedger, bootstrap: str, topic: str) -> Reconciliation:
    """Account for every record of ``topic`` against ``ledger``."""
    return reconcile(ledger, TopicReader(bootstrap), topic, AvroCodec())
