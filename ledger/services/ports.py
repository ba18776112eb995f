"""The seams of the service layer: what the use cases need from the world outside.

The use cases (:mod:`.ingest`, :mod:`.lookback`, :mod:`.reconcile`, :mod:`.submission`) are
written against these abstractions; the adapters implement them (Kafka in
:mod:`ledger.adapters.kafka`, the store in :mod:`ledger.adapters.persistence`,
the read models in :mod:`projections`), and :mod:`ledger.bootstrap` plugs
one into the other. Tests plug in doubles: the ingest's batching and
exactly-once logic is unit-tested with an in-memory consumer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import ProcessRecorder, StoredEvent

from ledger.domain.acknowledgement import NoticeLimits
from ledger.domain.facts import NotAFact, ReportedFact
from ledger.domain.notice import RecallNotice
from ledger.domain.supply import ShelfSpell, Use
from ledger.domain.transfusion import Evaluation, Reaction, Transfusion


def first_line(error: BaseException) -> str:
    """What an error says, on one line (at most 200 characters): for logs and messages."""
    text = str(error).strip().splitlines()
    return text[0].strip()[:200] if text else type(error).__name__


# -- the store -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """Where a Kafka partition was read to, in which generation of its history."""

    partition_key: str
    generation: int
    offset: int
    fingerprint: str


class FactId(NamedTuple):
    """Where the fact stored under an ``event_id`` is: its stream and version (a tuple:
    one is made for every fact recorded)."""

    event_id: str
    originator_id: UUID
    originator_version: int


#: The tracking name recording that a store's fact index covers its whole log.
FACT_INDEX = "bloodledger:fact-index"


class LedgerRecorder(ProcessRecorder, ABC):
    """The library's process recorder, as the ledger extends it in every backend.

    ``insert_events`` also takes ``trackings=[...]`` (one position per Kafka
    partition of a poll, each under the library's rule that a position must
    exceed the last one recorded), ``checkpoints=[...]``, ``fact_ids=[...]`` and
    ``notices=[...]`` (the recall notices the events' quarantines call for: the
    outbox), all in the transaction of the events. The fact index makes
    ``event_id`` unique across the whole ledger: inserting an id already indexed
    raises the library's ``IntegrityError`` and writes nothing. A notice whose
    ``notice_id`` is in the outbox already is not recorded again (the same notice).
    """

    @abstractmethod
    def notice_outbox(self) -> NoticeOutbox:
        """The outbox this recorder writes notices to, on its own connections (closing
        it leaves the recorder open)."""

    @abstractmethod
    def select_fact_ids(self, event_ids: Sequence[str]) -> dict[str, FactId]:
        """Where each of these event ids is stored (ids not stored are absent)."""

    @abstractmethod
    def index_facts(self, fact_ids: Sequence[FactId]) -> None:
        """Index facts stored before the index existed (first one wins), and mark the
        index complete (tracking :data:`FACT_INDEX`), in one transaction."""

    @abstractmethod
    def checkpoint(self, partition_key: str) -> Checkpoint | None:
        """The last checkpoint recorded for a partition (``None`` before any)."""

    @abstractmethod
    def select_streams(
        self, originator_ids: Sequence[UUID], up_to: int | None = None
    ) -> list[StoredEvent]:
        """Every event of the given streams (only those notified by ``up_to``), in
        stream order: one query however many streams, so a batch reads its
        aggregates at once."""

    @abstractmethod
    def select_stream_tails(
        self, originator_ids: Sequence[UUID], after: Sequence[int]
    ) -> list[StoredEvent]:
        """The events of each stream above the version given for it (0: all of them),
        in stream order, in one query: what a copy of each stream kept in memory at
        that version lacks — usually nothing."""


# -- the notice outbox ------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    """One recall notice in the outbox: its place (the order notices were recorded in),
    the notice as stored (a patient id sealed on a protected ledger), and when the relay
    had the broker's acknowledgement of it (``None``: not yet)."""

    position: int
    notice: RecallNotice
    sent_at: datetime | None


class NoticeOutbox(ABC):
    """The recall notices the ledger must send, kept in its store (``bl_notices``).

    Written only by the ledger's recorder, in the transaction of the quarantines
    that call for them, one row per ``notice_id`` (recording a notice again is a
    no-op): so a notice exists exactly when its quarantine does. The relay reads
    :meth:`pending`, publishes, then :meth:`mark_sent`; a crash in between sends a
    notice again, never loses one.
    """

    @abstractmethod
    def pending(self, limit: int) -> list[OutboxEntry]:
        """At most ``limit`` notices not yet sent, in position order."""

    @abstractmethod
    def mark_sent(self, positions: Sequence[int], at: datetime) -> None:
        """Record that these notices reached the broker at ``at`` (a notice already
        marked keeps its first time)."""

    @abstractmethod
    def of_case(self, case_id: str) -> list[OutboxEntry]:
        """Every notice of a case, sent or not, in position order."""

    @abstractmethod
    def entries(self, *, facility: str | None = None) -> list[OutboxEntry]:
        """Every notice (to one facility, if given), sent or not, in position order."""

    @abstractmethod
    def close(self) -> None: ...


class NoticeEncoder(Protocol):
    """Turns a recall notice (its identifiers revealed) into the value published."""

    def encode(self, notice: RecallNotice) -> bytes: ...


# -- Kafka -----------------------------------------------------------------------------


class Partition(NamedTuple):
    """A topic partition (equal to, and hashed like, kafka-python's ``TopicPartition``)."""

    topic: str
    partition: int


class KafkaRecord(Protocol):
    """One consumed record (kafka-python's ``ConsumerRecord`` has this shape)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...


PartitionsCallback = Callable[[Sequence[Partition]], None]


class UndecodableBatch(Exception):
    """The broker handed over a batch of one partition that cannot be read at all
    (a compression codec the client lacks, corrupt bytes): no record of it can be
    told apart, so none can be dead-lettered on its own."""

    def __init__(self, partition: Partition, offset: int, reason: str) -> None:
        super().__init__(partition, offset, reason)
        self.partition = partition
        self.offset = offset
        self.reason = reason

    def __str__(self) -> str:
        where = f"{self.partition.topic}[{self.partition.partition}]@{self.offset}"
        return f"the batch at {where} cannot be decoded ({self.reason})"


class RecordConsumer(Protocol):
    """A consumer-group member of the events topic that never commits by itself."""

    def subscribe(
        self, topic: str, on_assigned: PartitionsCallback, on_revoked: PartitionsCallback
    ) -> None:
        """Join the group; the callbacks run inside :meth:`poll` on rebalances."""

    def poll(self, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[KafkaRecord]]:
        """The next records of the assigned partitions (empty after ``timeout_ms``);
        raises :class:`UndecodableBatch` naming the partition and offset of a batch
        that cannot be read."""

    def pause(self, partition: Partition) -> None:
        """Fetch nothing more from ``partition`` (until it is assigned again)."""

    def seek(self, partition: Partition, offset: int) -> None:
        """The next poll of ``partition`` starts at ``offset``."""

    def seek_to_beginning(self, partition: Partition) -> None: ...

    def commit(self, offsets: Mapping[Partition, int]) -> bool:
        """Commit the next offsets to read (hints for lag tools); False if refused."""

    def lag(self) -> int | None:
        """Records behind the broker's end, as last reported (``None``: unknown)."""

    def close(self) -> None: ...


class DeadLetterSink(Protocol):
    """Where records the ledger does not store go, untouched, with their reason."""

    def send(self, record: KafkaRecord, reason: NotAFact) -> None:
        """Send one dead letter (asynchronously)."""

    def flush(self, stopping: Callable[[], bool]) -> dict[Partition, int]:
        """Return once every dead letter sent is acknowledged by the broker: for each
        origin partition, the dead-letter position of its last letter since the last
        flush (recorded with the batch, so a restart knows where to look)."""

    def sent_since(self, origin: Partition, dlq_offset: int | None) -> set[int]:
        """Offsets of ``origin``'s records already dead-lettered after ``dlq_offset``
        (the position last recorded; ``None``: from the beginning)."""

    def close(self) -> None: ...


class Decoder(Protocol):
    """Turns a Kafka value into a reported fact, or raises :class:`NotAFact`."""

    def decode(self, value: bytes | None) -> ReportedFact: ...


class SubmissionCodec(Decoder, Protocol):
    """The events an integrator submits without Kafka: contract JSON turned into the
    value the ingest reads, and that value read as the ingest reads it."""

    def encode_json(self, document: object) -> bytes:
        """One parsed contract-JSON event as a Confluent-framed Avro value, or
        :class:`NotAFact` with the reason the dead-letter path gives the same mistake."""


class Unavailable(Exception):
    """The broker did not acknowledge every record in time (or could not be reached).

    Nothing is known either way of the records not acknowledged: some may reach the
    topic. Sending the same events again, with the same event ids, is safe: the
    ledger records an identical repeat once. The message says why, then that.
    """

    ADVICE = (
        "sending the same events again (the same event ids) is safe: "
        "the ledger records an identical repeat once"
    )

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}; {self.ADVICE}")
        self.reason = reason


class EventPublisher(Protocol):
    """Produces records to a topic and waits for the broker to have them (thread-safe)."""

    def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Produce ``(key, value)`` records, in order; return once the broker has
        acknowledged every one, or raise :class:`Unavailable`."""

    def close(self) -> None: ...


# -- a schema registry --------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema as a Schema Registry holds it under an id: its text, its type (``AVRO``,
    ``JSON``, ``PROTOBUF``) and the subjects it references (none: it parses on its own)."""

    text: str
    schema_type: str = "AVRO"
    references: tuple[str, ...] = ()


class SchemaRegistryUnavailable(Exception):
    """The schema registry could not answer (down, refused, timed out, an error status):
    nothing is known of the schema id asked for, so its message waits, never
    dead-lettered. The message names the registry (without credentials) and why."""


class SchemaRegistry(Protocol):
    """Writer schemas the manifest does not have, by Confluent schema id (a Confluent
    Schema Registry, Karapace, Apicurio's ``ccompat`` API, or the ledger's own)."""

    def schema(self, schema_id: int) -> RegisteredSchema | None:
        """The schema registered under ``schema_id``; ``None`` if the registry says it has
        none; raises :class:`SchemaRegistryUnavailable` if it cannot say."""


#: Where a dead letter came from: (topic, partition, offset).
Origin = tuple[str, int, int]


class TopicReader(Protocol):
    """Reads a whole topic and its dead letters (for reconciliation)."""

    def records(self, topic: str) -> Iterator[KafkaRecord]:
        """Every record of every partition, from the beginning."""

    def dead_letter_origins(self, topic: str) -> dict[Origin, str]:
        """Where each record on the topic's dead-letter topic came from, with the
        error class it was dead-lettered for."""


# -- the read models ---------------------------------------------------------------

Row = dict[str, Any]


class DonorIndex(Protocol):
    """What a lookback needs to find from the read models (projections implement it)."""

    def donor_units(
        self, donor_id: str, since: datetime, until: datetime
    ) -> tuple[list[Row], list[Row]]:
        """A donor's donations collected in [since, until], and their units."""

    def donors_units(self, donors: Sequence[str]) -> tuple[list[Row], list[Row]]:
        """Every donation of these donors, and their units."""

    def recipients_of(self, unit_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Who was transfused with these units."""

    def donors_of(self, dins: Sequence[str]) -> set[str]:
        """The known donors of these donations."""

    def reactive_donations(self, donors: Sequence[str] | None = None) -> list[Row]:
        """Donations with a reactive result and a known donor (of these donors, if given)."""

    def cases(self, donors: Sequence[str] | None = None) -> list[Row]:
        """Every lookback case (of these donors, if given)."""

    def reactive_results(self, dins: Sequence[str]) -> list[Row]:
        """The reactive infectious-marker results (din, event_id, test, occurred_at)."""

    def case(self, case_id: str) -> Row | None: ...

    def notices_of_case(
        self, case_id: str, at: datetime, limits: NoticeLimits
    ) -> list[dict[str, Any]]:
        """The case's recall notices as of ``at``: each answered or open, and if open,
        how old and whether overdue under ``limits``."""

    def unmatched_acknowledgements(self, unit_ids: Sequence[str]) -> list[dict[str, Any]]:
        """These units' acknowledgements that close no notice, with why."""


class UsageRecords(Protocol):
    """What the quality and inventory reports read of one facility's use of blood
    (projections implement it); every window is half-open, [start, end)."""

    def transfusions(self, facility: str, start: datetime, end: datetime) -> list[Transfusion]:
        """The units started for patients at the facility in the window."""

    def reactions(self, facility: str, start: datetime, end: datetime) -> list[Reaction]:
        """The adverse reactions the facility reported in the window."""

    def evaluations(self, unit_ids: Sequence[str]) -> list[Evaluation]:
        """Every post-transfusion evaluation of these units, whenever recorded."""

    def shelf(self, facility: str, start: datetime, end: datetime) -> list[ShelfSpell]:
        """The facility's shelf spells that overlap the window, its end included (the
        inventory report's last sample is at the end)."""

    def uses(self, facility: str, start: datetime, end: datetime) -> list[Use]:
        """The facility's uses of units in (start, end]."""

    def is_centre(self, facility: str) -> bool:
        """The facility produces components (a blood centre)."""


# -- the audit log ---------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    """One sealed fact: its place in the tree, its leaf hash and links, what it is about."""

    index: int
    notification_id: int
    leaf_hash: bytes
    #: The leaf's links, one ``key previous`` per line (``ledger.domain.leaf``).
    links: str
    stream: UUID
    version: int
    topic: str
    din: str | None
    product_code: str | None
    facility: str | None
    actor: str | None
    #: ``occurred_at`` in milliseconds since the epoch (None for facts without one).
    occurred_at: int | None


@dataclass(frozen=True)
class SealedCheckpoint:
    """A checkpoint the sealer signed: tree size, root, the signed note, when (ms)."""

    size: int
    root: bytes
    note: bytes
    sealed_at: int


@dataclass(frozen=True)
class Cosignature:
    """A witness's cosignature of one checkpoint, as received."""

    size: int
    witness: str
    key_id: int
    signed_at: int
    line: str


class AuditStore(ABC):
    """The sealed tree of a store, kept beside its events (SQLite and PostgreSQL).

    The tree's size and the sealer's position are those of its last entry, and
    one :meth:`append` writes entries, stored nodes, chain heads and the new
    checkpoint in one transaction: a crash leaves all of a seal or none of it,
    and a second sealer appending the same indexes fails on their key.
    """

    @abstractmethod
    def size_and_position(self) -> tuple[int, int]:
        """The tree's size and the notification id of its last leaf (0, 0 if empty)."""

    @abstractmethod
    def heads(self, chains: Sequence[str]) -> dict[str, int]:
        """The last tree index of each of these chains that has one."""

    @abstractmethod
    def nodes(self, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Stored nodes by (level, index): level 0 are the leaf hashes."""

    @abstractmethod
    def append(
        self,
        entries: Sequence[AuditEntry],
        nodes: Sequence[tuple[int, int, bytes]],
        heads: Mapping[str, int],
        checkpoint: SealedCheckpoint,
    ) -> None:
        """One seal, atomically (raises the library's ``IntegrityError`` if another
        sealer appended first)."""

    @abstractmethod
    def checkpoints(self) -> list[SealedCheckpoint]:
        """Every checkpoint signed, smallest first."""

    @abstractmethod
    def entries(self, indexes: Sequence[int]) -> list[AuditEntry]:
        """These entries (those that exist), by index."""

    @abstractmethod
    def entries_between(self, start: int, stop: int) -> list[AuditEntry]:
        """Entries ``start`` to ``stop - 1``, in order."""

    @abstractmethod
    def leaf_hashes(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        """(notification id, leaf hash) of leaves ``start`` to ``stop - 1``: what a full
        check of the store compares, without the rest of each entry."""

    @abstractmethod
    def entries_where(
        self,
        *,
        din: str | None = None,
        facility: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[AuditEntry]:
        """Entries of a DIN, or reported by a facility or an actor, optionally with
        ``occurred_at`` in [since, until] (ms), in index order."""

    @abstractmethod
    def add_cosignatures(self, cosignatures: Sequence[Cosignature]) -> int:
        """Store cosignatures (a repeat is ignored); how many were new."""

    @abstractmethod
    def cosignatures(self) -> list[Cosignature]: ...

    @abstractmethod
    def close(self) -> None: ...


# -- access control ----------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRecord:
    """A bearer token as the store keeps it: never the token, only its SHA-256."""

    name: str
    role: str
    facility: str | None
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class AccessEntry:
    """One response that revealed identifiers: who, as what, on which route, when,
    and the identifiers it showed — (kind, value) pairs, the values sealed on a
    protected ledger. ``id`` is the store's (``None`` until appended)."""

    at: datetime
    token_name: str
    role: str
    route: str
    identifiers: tuple[tuple[str, str], ...]
    id: int | None = None


class TokenExists(ValueError):
    """A token of that name exists already (names are never reused, even revoked)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a token named {name!r} exists already (names are never reused)")
        self.name = name


class AccessTables(ABC):
    """The tokens and the access log of a store (``bl_tokens``, ``bl_access_log``).

    The access log is append-only: there is no method to change or remove an
    entry, and the SQL backends refuse ``UPDATE`` and ``DELETE`` on its table.
    """

    @abstractmethod
    def add_token(
        self,
        name: str,
        role: str,
        facility: str | None,
        token_hash: str,
        created_at: datetime,
    ) -> None:
        """Store a new token (raises :class:`TokenExists` if the name is taken)."""

    @abstractmethod
    def revoke(self, name: str, at: datetime) -> bool:
        """Revoke the token of that name; False if there is none not yet revoked."""

    @abstractmethod
    def tokens(self) -> list[TokenRecord]:
        """Every token, revoked ones too, by name."""

    @abstractmethod
    def token_by_hash(self, token_hash: str) -> TokenRecord | None: ...

    @abstractmethod
    def append_access(self, entry: AccessEntry) -> int:
        """Append one entry to the access log; its id."""

    @abstractmethod
    def access_entries(
        self, *, limit: int = 100, offset: int = 0, since: datetime | None = None
    ) -> list[AccessEntry]:
        """Entries of the access log, newest first (only those at or after ``since``)."""

    @abstractmethod
    def close(self) -> None: ...
