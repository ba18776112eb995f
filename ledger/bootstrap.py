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
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from eventsourcing.persistence import PersistenceError

from ledger.adapters.avro import AvroCodec
from ledger.adapters.checkpoints import CheckpointDirectory, KafkaCheckpoints
from ledger.adapters.contract_json import ContractCodec
from ledger.adapters.deadletter import KafkaDeadLetters
from ledger.adapters.kafka import (
    DEFAULT_NOTICES_TOPIC,
    GroupConsumer,
    GroupTimeouts,
    KafkaEventPublisher,
    TopicReader,
    make_producer,
)
from ledger.adapters.keys import load_signing_keys, load_verifier_key
from ledger.adapters.notice_avro import NoticeCodec
from ledger.adapters.persistence import (
    ReadModelTables,
    Store,
    StoreError,
    StoreMissing,
    open_read_models,
)
from ledger.adapters.persistence.sqlite import SQLiteStore
from ledger.adapters.registry import HttpSchemaRegistry
from ledger.adapters.transcoder import OrjsonTranscoder
from ledger.domain.identity import CLEAR, Identities, IdentityKey
from ledger.domain.lookback import DEFAULT_WINDOW_DAYS
from ledger.domain.note import (
    COSIGNATURE,
    Checkpoint,
    Note,
    NoteError,
    SignedCheckpoint,
    SigningKey,
)
from ledger.services.access import AccessControl
from ledger.services.application import DEFAULT_CACHE_SIZE, BloodLedger, WithheldIdentities
from ledger.services.audit import AuditError, Exporter
from ledger.services.eventlog import KnownAt
from ledger.services.ingest import Ingestor, IngestSettings
from ledger.services.lookback import AutomaticLookbacks, CaseRecorder, Lookbacks
from ledger.services.ports import (
    AccessTables,
    AuditStore,
    Cosignature,
    NoticeOutbox,
    SchemaRegistryUnavailable,
    first_line,
)
from ledger.services.reconcile import Reconciliation, reconcile
from ledger.services.relay import BATCH_SIZE as RELAY_BATCH_SIZE
from ledger.services.relay import NoticeRelay
from ledger.services.sealer import CheckpointPublisher, Sealer, SealSettings
from ledger.services.submission import EventSubmission
from projections.projector import Projector
from projections.queries import LookbackIndex

log = logging.getLogger("bloodledger")


class IdentityProtectionError(StoreError):
    """A protected store opened without its key or with another, or a key given for a
    store whose identifiers are in the clear; the message names the store."""


def open_ledger(
    store: Store,
    *,
    create: bool = True,
    cache_size: int = DEFAULT_CACHE_SIZE,
    identity_key: IdentityKey | None = None,
    identities_required: bool = True,
) -> BloodLedger:
    """The ledger on a store. ``create``: a command that writes, which may create the
    store (and its tables); otherwise the store must already hold a ledger.

    ``identity_key``: the key a protected store's identifiers are sealed with; a new
    store (its log empty) opened with one by a writer is recorded as protected. A
    protected store opened without it raises, unless ``identities_required`` is off
    (the audit's commands): that ledger reads stored bytes but records nothing.

    Raises :class:`StoreMissing`, :class:`StoreUnavailable` or
    :class:`IdentityProtectionError`, one line naming the store.
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
        try:
            ledger.identities = _identities(
                ledger, store, identity_key, create=create, required=identities_required
            )
        except IdentityProtectionError:
            ledger.close()
            raise
    except (PersistenceError, psycopg.Error, sqlite3.Error, OSError) as error:
        raise store.unavailable(error) from None
    return ledger


def _identities(
    ledger: BloodLedger, store: Store, key: IdentityKey | None, *, create: bool, required: bool
) -> Identities:
    """How the ledger on ``store`` treats identifiers, as the store says it must."""
    protection = ledger.protection()
    if protection is None and key is not None and create and ledger.event_log.head() == 0:
        protection = ledger.protect(key)  # a new store: protected from its first event
    where = store.redacted()
    if protection is None and key is not None and ledger.event_log.head() > 0:
        # Another writer may have created and protected the store between our two reads:
        # its first event is the protection, so a log that is not empty now shows it.
        protection = ledger.protection()
    if protection is None:
        if key is not None and ledger.event_log.head() > 0:
            msg = (
                f"{where}: this ledger was created without identity protection (its "
                "identifiers are stored in the clear): unset BLOODLEDGER_CIPHER_KEY"
            )
            raise IdentityProtectionError(msg)
        return CLEAR if key is None else Identities(key)
    if key is None:
        if not required:
            return WithheldIdentities()
        msg = (
            f"{where}: this ledger's donor and patient identifiers are encrypted: "
            "set BLOODLEDGER_CIPHER_KEY to the key it was created with"
        )
        raise IdentityProtectionError(msg)
    if not protection.opens_with(key.check):
        msg = (
            f"{where}: BLOODLEDGER_CIPHER_KEY is not the key this ledger's identifiers "
            "are encrypted with"
        )
        raise IdentityProtectionError(msg)
    return Identities(key)


class Closing(ABC):
    """What holds stores open, as a context manager: leaving the block closes it."""

    @abstractmethod
    def close(self) -> None:
        """Close every store and producer this holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class ReadModels(Closing):
    """The ledger with its read models, projector and lookbacks; a context manager.

    The projector runs the ledger's lookback policy whenever it reaches the
    end of the log: a reactive donation whose donor is known opens a case by itself.
    The lookbacks read the store's notice outbox (``outbox``), to say when each recall
    notice went out.
    """

    ledger: BloodLedger
    view: ReadModelTables
    projector: Projector
    lookbacks: Lookbacks
    outbox: NoticeOutbox | None = None

    @property
    def identities(self) -> Identities:
        """How the ledger treats identifiers: seal what is typed, reveal what is shown."""
        return self.ledger.identities

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.close()
        self.view.close()
        self.ledger.close()


def open_read_models_of(
    store: Store,
    *,
    create: bool = True,
    lookback_window_days: int = DEFAULT_WINDOW_DAYS,
    page_size: int = 5000,
    automatic_lookbacks: bool = True,
    identity_key: IdentityKey | None = None,
    identities_required: bool = True,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> ReadModels:
    """The ledger and everything that reads it, on one store (``automatic_lookbacks``
    off: the read models only, the ledger's own lookback policy not run; the identity
    keywords and ``cache_size`` as :func:`open_ledger` takes them)."""
    ledger = open_ledger(
        store,
        create=create,
        cache_size=cache_size,
        identity_key=identity_key,
        identities_required=identities_required,
    )
    try:
        view = open_read_models(store)
    except BaseException:
        ledger.close()
        raise
    with store.ddl_lock():  # one worker makes older tables anew; the others find them made
        remade = view.ensure_version(ledger.name)
    if remade:
        log.info("read models of an older version made anew: they are built again")
    cases = CaseRecorder(ledger, LookbackIndex(view))
    policy = AutomaticLookbacks(cases, window_days=lookback_window_days)
    at_head = policy.at_head if automatic_lookbacks else None
    projector = Projector(ledger.event_log, view, page_size=page_size, at_head=at_head)
    outbox = ledger.ledger_recorder.notice_outbox()  # the recorder's: closing it keeps the ledger
    lookbacks = Lookbacks(cases, projector.catch_up, outbox)
    return ReadModels(ledger, view, projector, lookbacks, outbox)


@contextmanager
def read_models_known_at(
    store: Store,
    known_at: datetime,
    *,
    page_size: int = 5000,
    identity_key: IdentityKey | None = None,
    identities_required: bool = True,
) -> Iterator[ReadModelTables]:
    """Read models of the log as the ledger knew it at ``known_at``, built for the
    question in a scratch SQLite file (a rebuild's cost) and dropped afterwards
    (identifiers sealed in them as in the store; the identity keywords as
    :func:`open_ledger` takes them)."""
    ledger = open_ledger(
        store, create=False, identity_key=identity_key, identities_required=identities_required
    )
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


def event_decoder(schema_registry: str | None = None) -> AvroCodec:
    """The events' decoder: the manifest's schemas, and with a schema registry's URL the
    writer schemas only that registry has. The registry's schemas under the manifest's
    ids are compared with the manifest's now (a registry that disagrees raises
    :class:`~ledger.adapters.avro.RegistryDisagrees`, a ``ValueError``), or, if it does
    not answer yet, before the first id only it knows."""
    if schema_registry is None:
        return AvroCodec()
    codec = AvroCodec(registry=HttpSchemaRegistry(schema_registry))
    try:
        codec.check_registry()
    except SchemaRegistryUnavailable as error:
        log.warning(
            "schema registry unavailable (%s): the manifest's ids are read as ever; a record "
            "of an id only the registry knows waits until it answers",
            first_line(error),
        )
    return codec


def ingestor(
    ledger: BloodLedger,
    kafka: KafkaSettings,
    settings: IngestSettings,
    *,
    after_batch: Callable[[], object] | None = None,
    when_idle: Callable[[], object] | None = None,
    decoder: AvroCodec | None = None,
) -> Ingestor:
    """An ingest worker consuming ``kafka.topic`` into ``ledger`` (the hooks: after each
    batch, and now and then while idle; ``decoder``: :func:`event_decoder`'s, by default
    without a registry)."""
    decoder = decoder if decoder is not None else AvroCodec()
    consumer = GroupConsumer(
        kafka.bootstrap, kafka.group, kafka.timeouts, max_records=settings.max_records
    )
    dead_letters = KafkaDeadLetters(make_producer(kafka.bootstrap), TopicReader(kafka.bootstrap))
    return Ingestor(
        ledger, consumer, dead_letters, decoder, settings,
        after_batch=after_batch, when_idle=when_idle,
    )  # fmt: skip


def reconcile_topic(
    ledger: BloodLedger, bootstrap: str, topic: str, *, schema_registry: str | None = None
) -> Reconciliation:
    """Account for every record of ``topic`` against ``ledger`` (decoded as the ingest
    decodes them: with the same ``schema_registry``, if it had one)."""
    return reconcile(ledger, TopicReader(bootstrap), topic, event_decoder(schema_registry))


def event_submission(bootstrap: str, topic: str, *, timeout_s: float = 10.0) -> EventSubmission:
    """Events submitted over HTTP, checked with the ingest's decoder and produced to
    ``topic``; each submission waits at most about ``timeout_s`` for the broker (close
    it to let its producer go)."""
    publisher = KafkaEventPublisher(bootstrap, timeout_s=timeout_s)
    return EventSubmission(publisher, ContractCodec(AvroCodec()), topic)


def notice_relay(
    ledger: BloodLedger,
    bootstrap: str,
    topic: str = DEFAULT_NOTICES_TOPIC,
    *,
    timeout_s: float = 10.0,
    batch_size: int = RELAY_BATCH_SIZE,
) -> NoticeRelay:
    """The relay of ``ledger``'s notice outbox (its recorder's: the rows its quarantines'
    transactions wrote) to ``topic``, revealing recipients with the ledger's identities;
    each publish of at most ``batch_size`` notices waits at most about ``timeout_s`` for
    the broker. Closing it leaves the ledger open."""
    publisher = KafkaEventPublisher(bootstrap, timeout_s=timeout_s, client_id="bloodledger-relay")
    outbox = ledger.ledger_recorder.notice_outbox()
    return NoticeRelay(
        outbox, publisher, NoticeCodec(), ledger.identities, topic, batch_size=batch_size
    )


# -- the audit log --------------------------------------------------------------------


@dataclass(frozen=True)
class AuditSettings:
    """Where the signing key and the published checkpoints are, and how to seal."""

    #: Signing key sources (directories, files or key texts): several while rotating.
    keys: tuple[str, ...] = ()
    checkpoints: Path | None = None
    bootstrap: str | None = None
    seal: SealSettings = field(default_factory=SealSettings)


class Audit(Closing):
    """The audit log of one store: its ledger (read-only), tables, and use cases."""

    def __init__(
        self,
        ledger: BloodLedger,
        store: AuditStore,
        settings: AuditSettings,
        *,
        owns_ledger: bool = True,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.settings = settings
        self.owns_ledger = owns_ledger
        self._kafka: KafkaCheckpoints | None = None
        self._sealer: Sealer | None = None

    def keys(self) -> list[SigningKey]:
        return load_signing_keys(self.settings.keys)

    def directory(self, key: SigningKey | None = None) -> CheckpointDirectory:
        if self.settings.checkpoints is None:
            raise AuditError("give --checkpoints DIR or set BLOODLEDGER_CHECKPOINTS")
        return CheckpointDirectory(self.settings.checkpoints, key.verifier if key else None)

    def sealer_now(self) -> Sealer:
        """The sealer, made once (the same one for every batch of a long command)."""
        if self._sealer is None:
            self._sealer = self.sealer()
        return self._sealer

    def sealer(self) -> Sealer:
        keys = self.keys()
        publishers: list[CheckpointPublisher] = [self.directory(keys[0])]
        if self.settings.bootstrap:
            self._kafka = KafkaCheckpoints(self.settings.bootstrap)
            publishers.append(self._kafka)
        return Sealer(
            self.ledger.event_log, self.store, keys, publishers, settings=self.settings.seal
        )

    def exporter(self) -> Exporter:
        keys = self.keys()
        directory = self.directory(keys[0])
        return Exporter(
            self.ledger.event_log,
            self.store,
            keys,
            self.ledger.identities,
            lambda: list(directory.all()),
        )

    def receive_cosignatures(self, notes: Sequence[bytes], witness_keys: Sequence[Path]) -> int:
        """Store the witnesses' cosignatures found in ``notes`` (cosigned checkpoints),
        each checked against its witness's key and the checkpoint it cosigns."""
        keys = [load_verifier_key(p) for p in witness_keys]
        if not keys or any(k.sig_type != COSIGNATURE for k in keys):
            raise AuditError("give each witness's cosigning verifier key with --witness VKEY")
        directory = self.directory()
        signed = {c.size: c for c in self.store.checkpoints()}
        found: list[Cosignature] = []
        for data in notes:
            note = Note.parse(data)
            try:
                size = int(note.text.split(b"\n")[1])
            except (IndexError, ValueError):
                raise AuditError("not a checkpoint") from None
            ours = signed.get(size)
            if ours is None or Note.parse(ours.note).text != note.text:
                raise AuditError(
                    f"the cosigned checkpoint of size {size} is not one this ledger signed"
                )
            checkpoint = SignedCheckpoint(Checkpoint.parse(note.text), note)
            try:
                cosigners = checkpoint.cosigners(keys)
            except NoteError as e:
                raise AuditError(f"checkpoint {size}: {e}") from None
            if not cosigners:
                raise AuditError(f"checkpoint {size}: no known witness cosigned it")
            by_name = {k.name: k for k in keys}
            for signature in note.signatures:
                key = by_name.get(signature.name)
                if key is not None and signature.key_id == key.key_id:
                    found.append(
                        Cosignature(
                            size, key.name, key.key_id, cosigners[key.name], signature.line()
                        )
                    )
            directory.add_signatures(size, note)
        return self.store.add_cosignatures(found)

    def close(self) -> None:
        if self._kafka is not None:
            self._kafka.close()
        self.store.close()
        if self.owns_ledger:
            self.ledger.close()


def open_audit(
    store: Store, settings: AuditSettings, *, identity_key: IdentityKey | None = None
) -> Audit:
    """The audit log of ``store``: readable without the cipher key (the audit works on
    stored bytes); with it, exports select people by identifier and reveal identifiers."""
    ledger = open_ledger(store, create=False, identity_key=identity_key, identities_required=False)
    try:
        tables = store.audit_tables()
    except BaseException:
        ledger.close()
        raise
    return Audit(ledger, tables, settings)


def audit_beside(ledger: BloodLedger, store: Store, settings: AuditSettings) -> Audit:
    """The audit log of a ledger another command holds open (``ingest --seal``,
    ``project --seal``): closing it leaves that ledger open."""
    return Audit(ledger, store.audit_tables(), settings, owns_ledger=False)


# -- access control -------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


class Access(Closing):
    """The tokens and access log of one store, with the ledger that says how its
    identifiers are kept; ``control`` is the use case. A context manager."""

    def __init__(
        self,
        ledger: BloodLedger,
        tables: AccessTables,
        *,
        clock: Callable[[], datetime] = _now,
        owns_ledger: bool = True,
        remember_tokens_s: float = 0.0,
    ) -> None:
        self.ledger = ledger
        self.tables = tables
        self.owns_ledger = owns_ledger
        self.control = AccessControl(
            tables, ledger.identities, clock, remember_tokens_s=remember_tokens_s
        )

    def close(self) -> None:
        self.tables.close()
        if self.owns_ledger:
            self.ledger.close()


def open_access(
    store: Store,
    *,
    identity_key: IdentityKey | None = None,
    create: bool = True,
    identities_required: bool = True,
    clock: Callable[[], datetime] = _now,
) -> Access:
    """The tokens and access log of ``store`` (the keywords as :func:`open_ledger`
    takes them: the ledger says whether identifiers recorded in the log are sealed)."""
    ledger = open_ledger(
        store, create=create, identity_key=identity_key, identities_required=identities_required
    )
    try:
        tables = store.access_tables()
    except (PersistenceError, psycopg.Error, sqlite3.Error, OSError) as error:
        ledger.close()
        raise store.unavailable(error) from None
    except BaseException:
        ledger.close()
        raise
    return Access(ledger, tables, clock=clock)


def access_beside(
    ledger: BloodLedger,
    store: Store,
    *,
    clock: Callable[[], datetime] = _now,
    remember_tokens_s: float = 0.0,
) -> Access:
    """The tokens and access log beside a ledger another part holds open (the HTTP
    server's): closing it leaves that ledger open. ``remember_tokens_s``: how long a
    bearer token's holder is kept before the store is asked again (a token revoked
    from another process is honoured that long)."""
    tables = store.access_tables()
    return Access(
        ledger, tables, clock=clock, owns_ledger=False, remember_tokens_s=remember_tokens_s
    )
