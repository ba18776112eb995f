"""Kafka -> ledger ingest with exactly-once effect.

For every poll: decode each record; send the ones that are not facts,
untouched, to the dead-letter sink and wait for the broker's
acknowledgement; then record the facts, each partition's tracking record and
checkpoint in one database transaction; only then commit the Kafka offsets.
After a crash the ledger's own checkpoint says where each partition was read
to (see :mod:`.partitions`), so a replayed message is recognised even when
the Kafka offset commit was lost, and a broker that lost its history is
detected rather than trusted. Facts are also idempotent by ``event_id``, so a
producer's re-send is a no-op. While the database is unavailable the ingest
waits with backoff (:mod:`.retry`); so it does on a record whose writer schema
only a schema registry knows while that registry cannot answer (the record is
neither stored nor dead-lettered until it does).

The consumer, the dead-letter sink and the decoder are ports
(:mod:`.ports`): Kafka in production, in-memory doubles in unit tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal, TypeVar

from eventsourcing.persistence import IntegrityError, Tracking

from ledger.domain.facts import ErrorClass, NotAFact, ReportedFact
from ledger.services.application import BatchOutcome, BloodLedger, Conflict
from ledger.services.partitions import PartitionState
from ledger.services.ports import (
    Checkpoint,
    DeadLetterSink,
    Decoder,
    KafkaRecord,
    Partition,
    RecordConsumer,
    SchemaRegistryUnavailable,
    UndecodableBatch,
)
from ledger.services.retry import Stopped, until_available

log = logging.getLogger("bloodledger.ingest")
T = TypeVar("T")

#: How often a chunk is re-tried after a conflicting concurrent write.
CONFLICT_RETRIES = 3
#: How long ``--until-idle`` waits for a partition assignment (the first, or again after a
#: rebalance took every partition away).
ASSIGNMENT_TIMEOUT_S = 120.0
#: How long one poll waits for records.
POLL_TIMEOUT_MS = 500
#: How often, at most, the idle hook runs while no records arrive (seconds).
IDLE_HOOK_EVERY_S = 1.0


def conflict_reason(conflict: Conflict) -> NotAFact:
    """Why a fact whose event id is taken is dead-lettered, and where the first one is."""
    first = conflict.first
    return NotAFact(
        ErrorClass.EVENT_ID_CONFLICT,
        "event_id is already recorded for a different fact",
        details={
            "stream": str(first.originator_id),
            "version": str(first.originator_version),
            "din": conflict.din,
            "product_code": conflict.product_code or "",
        },
    )


def decode_record(decoder: Decoder, record: KafkaRecord) -> ReportedFact:
    """The fact a Kafka record carries, or :class:`NotAFact` saying why it is none."""
    fact = decoder.decode(record.value)
    if record.key is not None and record.key != fact.din.encode():
        msg = "message key is not the envelope's DIN"
        raise NotAFact(ErrorClass.KEY_MISMATCH, msg)
    return fact


@dataclass(frozen=True)
class IngestSettings:
    topic: str
    max_records: int = 2000
    until_idle: float | None = None
    progress_every: float = 5.0
    #: The first pause while the database is unavailable (it doubles, up to 30 s).
    retry_pause: float = 0.5


@dataclass
class IngestCounters:
    """Every consumed record ends in exactly one of: stored, duplicates,
    dead-lettered (not a fact), conflicts (dead-lettered: its event id is taken by a
    different fact), already recorded (re-read after a restart), or re-read because
    its partition's history changed (it is then consumed again)."""

    records: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    conflicts: int = 0
    already_recorded: int = 0
    history_changes: int = 0

    def line(self, rate: float, lag: int | None) -> str:
        lag_text = "?" if lag is None else str(lag)
        return (
            f"ingest: {self.records} records ({rate:,.0f}/s), stored {self.stored}, "
            f"duplicates {self.duplicates}, dead-lettered {self.dead_lettered}, "
            f"event-id conflicts {self.conflicts}, "
            f"already recorded {self.already_recorded}, lag≈{lag_text}"
        )


@dataclass
class _Chunk:
    """One partition's part of a poll: its decoded facts (each with the record that
    carried it) and where it ends."""

    state: PartitionState
    facts: list[ReportedFact]
    records: dict[int, KafkaRecord]
    tracking: Tracking
    checkpoint: Checkpoint

    def refuse(self, refused: set[int]) -> None:
        """Drop facts that were dead-lettered (by ``id()``): they are not recorded."""
        self.facts = [f for f in self.facts if id(f) not in refused]


def _positions(chunks: Sequence[_Chunk]) -> list[Tracking]:
    """Where each chunk ends in its partition, and where its dead letters end in the DLQ."""
    positions = [chunk.tracking for chunk in chunks]
    for chunk in chunks:
        if chunk.state.dead_letters_at is not None:
            positions.append(
                Tracking(chunk.state.dead_letters_upstream, chunk.state.dead_letters_at)
            )
    return positions


class Ingestor:
    """One ingest worker: a consumer-group member writing to the ledger."""

    def __init__(
        self,
        ledger: BloodLedger,
        consumer: RecordConsumer,
        dead_letters: DeadLetterSink,
        decoder: Decoder,
        settings: IngestSettings,
        *,
        after_batch: Callable[[], object] | None = None,
        when_idle: Callable[[], object] | None = None,
    ) -> None:
        self.ledger = ledger
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.decoder = decoder
        self.settings = settings
        self.after_batch = after_batch
        #: Run now and then while no records arrive (the notice relay: what a broker
        #: outage left pending goes out without waiting for the next batch).
        self.when_idle = when_idle
        self.counters = IngestCounters()
        self.partitions: dict[Partition, PartitionState] = {}
        self._stopping = False
        self._stop: Callable[[], bool] = lambda: False
        self._assigned_once = False
        #: When partitions were last assigned, and since when none has been (``None``:
        #: some are): idleness is counted from an assignment at the earliest, and never
        #: while the worker holds no partition — a slow group join, or a rejoin after a
        #: database outage outlasted the poll interval, is not "caught up".
        self._assigned_at = 0.0
        self._unassigned_since: float | None = None
        #: Partitions this worker held at a batch that cannot be decoded (nothing after
        #: it was read); a partition assigned again is read again, up to that batch.
        self.held: dict[Partition, UndecodableBatch] = {}

    def stop(self) -> None:
        """Ask the loop to stop after the current batch (safe from a signal handler)."""
        self._stopping = True

    def stopping(self) -> bool:
        return self._stopping or self._stop()

    def resume(self, assigned: Sequence[Partition]) -> None:
        """Position each partition from the ledger's checkpoint (the start if it has none)."""
        for tp in assigned:
            key = PartitionState(tp.topic, tp.partition).key
            checkpoint = self._until_available(
                partial(self.ledger.checkpoint, key), "reading checkpoints"
            )
            state = PartitionState.resume(tp.topic, tp.partition, checkpoint)
            dlq_position = self._until_available(
                partial(self.ledger.position, state.dead_letters_upstream), "reading checkpoints"
            )
            state.dead_lettered = self.dead_letters.sent_since(tp, dlq_position)
            self.partitions[tp] = state
            if checkpoint is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, checkpoint.offset)
        self._assigned_at = time.monotonic()
        self._unassigned_since = None if self.partitions else self._unassigned_since
        self._assigned_once = True
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned))

    def revoke(self, revoked: Sequence[Partition]) -> None:
        for tp in revoked:
            self.partitions.pop(tp, None)
        if not self.partitions and self._unassigned_since is None:
            self._unassigned_since = time.monotonic()

    def run(self, stop: Callable[[], bool] = lambda: False) -> IngestCounters:
        """Consume until stopped (or idle for ``until_idle`` seconds); returns the counts."""
        self._stop = stop
        self.consumer.subscribe(self.settings.topic, self.resume, self.revoke)
        started = last_report = last_records = last_idle = time.monotonic()
        try:
            while not self.stopping():
                try:
                    batch = self.consumer.poll(POLL_TIMEOUT_MS, self.settings.max_records)
                except UndecodableBatch as undecodable:
                    self._hold(undecodable)
                    continue
                now = time.monotonic()
                if batch:
                    self.ingest(batch)
                    last_records = now
                elif self.when_idle is not None and now - last_idle >= IDLE_HOOK_EVERY_S:
                    self._until_available(self.when_idle, "relaying notices")
                    last_idle = now
                if now - last_report >= self.settings.progress_every:
                    self._report(now - started)
                    last_report = now
                if self._idle_long_enough(now, started, last_records):
                    break
        except Stopped:
            log.info(
                "stopped while waiting for the database or the schema registry; "
                "the batch in hand will be re-read"
            )
        finally:
            self._report(time.monotonic() - started)
            self._close()
        return self.counters

    def _hold(self, undecodable: UndecodableBatch) -> None:
        """Stop reading one partition at a batch that cannot be decoded; the others go on.

        Nothing is lost (the batch stays in Kafka, unrecorded) and nothing loops: a
        restart reaches the same batch and holds the partition again, until an
        operator acts (``docs/operations.md``, "A batch that cannot be decoded").
        """
        self.consumer.pause(undecodable.partition)
        self.held[undecodable.partition] = undecodable
        log.error(
            "%s. Partition %d is held there: nothing after it is read until an operator "
            "acts (see docs/operations.md); the other partitions go on.",
            undecodable, undecodable.partition.partition,
        )  # fmt: skip

    def _idle_long_enough(self, now: float, started: float, last_records: float) -> bool:
        until_idle = self.settings.until_idle
        if until_idle is None:
            return False
        unassigned = started if not self._assigned_once else self._unassigned_since
        if unassigned is not None:
            if now - unassigned > ASSIGNMENT_TIMEOUT_S:
                log.error("no partition assigned within %.0f s; giving up", ASSIGNMENT_TIMEOUT_S)
                return True
            return False
        return now - max(last_records, self._assigned_at) >= until_idle

    def ingest(self, batch: Mapping[Partition, Sequence[KafkaRecord]]) -> None:
        """Store one poll: dead letters first, then facts, positions and checkpoints at once."""
        chunks: list[_Chunk] = []
        done: dict[Partition, int] = {}
        for tp, records in batch.items():
            state = self.partitions.get(tp)
            if state is None:  # revoked while this poll was in hand: its new owner reads them
                continue
            self.counters.records += len(records)
            chunk = self._chunk(tp, state, records)
            if chunk is not False:
                done[tp] = records[-1].offset + 1
                if chunk is not None:
                    chunks.append(chunk)
        self._flush()  # dead letters acknowledged before their records' offsets are recorded
        self._until_available(lambda: self._record(chunks), "storing a batch")
        for chunk in chunks:
            chunk.state.recorded = chunk.checkpoint.offset
            chunk.state.dead_letters_recorded()
        if self.after_batch is not None:
            self._until_available(self.after_batch, "updating projections")
        if done and not self.consumer.commit(done):
            log.warning("offset commit refused; the ledger's checkpoints govern")

    def _chunk(
        self, tp: Partition, state: PartitionState, records: Sequence[KafkaRecord]
    ) -> _Chunk | Literal[False] | None:
        """The fresh records of one partition, decoded (or dead-lettered).

        ``None``: nothing fresh. ``False``: the partition's history changed;
        it is being read again from its beginning, so this poll's records of
        it are dropped (they will be consumed again).
        """
        screened = state.screen(records)
        if screened.history_changed is not None:
            self._history_changed(tp, state, screened.history_changed)
            self.counters.records -= len(records)
            return False
        self.counters.already_recorded += screened.already_recorded
        if not screened.fresh:
            return None
        last = screened.fresh[-1]
        decoded = self._decode_or_dead_letter(screened.fresh)
        return _Chunk(
            state=state,
            facts=[fact for fact, _ in decoded],
            records={id(fact): record for fact, record in decoded},
            tracking=Tracking(state.upstream, last.offset),
            checkpoint=state.checkpoint(last),
        )

    def _history_changed(self, tp: Partition, state: PartitionState, why: str) -> None:
        state.start_new_generation()
        self.counters.history_changes += 1
        log.warning(
            "partition %s of %s: %s. The broker's history of it changed (storage lost, or the "
            "topic recreated); reading it again from its beginning as generation %d. Event ids "
            "keep every fact stored once.",
            tp.partition, tp.topic, why, state.generation,
        )  # fmt: skip
        self.consumer.seek_to_beginning(tp)

    def _decode_or_dead_letter(
        self, records: Sequence[KafkaRecord]
    ) -> list[tuple[ReportedFact, KafkaRecord]]:
        decoded: list[tuple[ReportedFact, KafkaRecord]] = []
        for record in records:
            try:
                decoded.append((self._decode(record), record))
            except NotAFact as reason:
                self._dead_letter(record, reason)
        return decoded

    def _decode(self, record: KafkaRecord) -> ReportedFact:
        """One record's fact; while the schema registry its writer schema must come from
        cannot answer, wait and ask again (nothing of the record is decided meanwhile)."""
        try:
            return decode_record(self.decoder, record)
        except SchemaRegistryUnavailable:
            pass  # the cold path, below: no watchdog thread per record on the hot one
        return until_available(
            partial(decode_record, self.decoder, record),
            what=f"decoding {record.topic}[{record.partition}]@{record.offset}",
            stopping=self.stopping,
            first_pause=self.settings.retry_pause,
            unavailable=(SchemaRegistryUnavailable,),
            down="schema registry",
        )

    def _dead_letter(self, record: KafkaRecord, reason: NotAFact) -> None:
        state = self.partitions[Partition(record.topic, record.partition)]
        if record.offset in state.dead_lettered:
            log.info("offset %d of %s: already dead-lettered", record.offset, state.key)
        else:
            self.dead_letters.send(record, reason)
        if reason.error_class == ErrorClass.EVENT_ID_CONFLICT:
            self.counters.conflicts += 1
        else:
            self.counters.dead_lettered += 1

    def _refuse(self, conflicts: Sequence[Conflict], chunks: Sequence[_Chunk]) -> None:
        """Dead-letter facts whose event id is taken, and wait for the broker to have them
        (before anything of the batch is recorded); they leave their chunks."""
        refused = {id(conflict.fact) for conflict in conflicts}
        for chunk in chunks:
            for conflict in conflicts:
                record = chunk.records.get(id(conflict.fact))
                if record is not None:
                    self._dead_letter(record, conflict_reason(conflict))
            chunk.refuse(refused)
        self._flush()

    def _flush(self) -> None:
        """Wait for the broker to have every dead letter sent; note where they ended."""
        for tp, dlq_offset in self.dead_letters.flush(self.stopping).items():
            state = self.partitions.get(tp)
            if state is not None:
                state.dead_letters_at = dlq_offset

    def _record(self, chunks: list[_Chunk]) -> None:
        """All chunks in one transaction; if that conflicts, each chunk on its own."""
        if not chunks:
            return
        facts = [fact for chunk in chunks for fact in chunk.facts]
        try:
            batch = self.ledger.prepare(facts)
            if batch.conflicts:
                self._refuse(batch.conflicts, chunks)
            outcome = self.ledger.commit(
                batch, _positions(chunks), checkpoints=[c.checkpoint for c in chunks]
            )
        except IntegrityError:
            for chunk in chunks:
                self._record_chunk(chunk)
        else:
            self._count(outcome)

    def _record_chunk(self, chunk: _Chunk) -> None:
        """One partition's chunk, telling an already-recorded position, an event id
        taken in another stream and a concurrent write apart."""
        name = chunk.tracking.application_name
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                batch = self.ledger.prepare(chunk.facts)
                if batch.conflicts:
                    self._refuse(batch.conflicts, [chunk])
                outcome = self.ledger.commit(
                    batch, _positions([chunk]), checkpoints=[chunk.checkpoint]
                )
            except IntegrityError:
                elsewhere = self.ledger.taken_elsewhere(chunk.facts)
                if elsewhere:
                    self._refuse(elsewhere, [chunk])
                    continue
                recorded = self.ledger.position(name)
                if recorded is not None and recorded >= chunk.tracking.notification_id:
                    self.counters.already_recorded += len(chunk.facts)
                    return
                log.warning("write conflict on %s (attempt %d); retrying", name, attempt)
                continue
            self._count(outcome)
            return
        msg = f"could not record a chunk of {name} after {CONFLICT_RETRIES} attempts"
        raise RuntimeError(msg)

    def _until_available(self, action: Callable[[], T], what: str) -> T:
        return until_available(
            action, what=what, stopping=self.stopping, first_pause=self.settings.retry_pause
        )

    def _count(self, outcome: BatchOutcome) -> None:
        self.counters.stored += outcome.facts - outcome.duplicates - len(outcome.conflicts)
        self.counters.duplicates += outcome.duplicates

    def _report(self, elapsed: float) -> None:
        rate = self.counters.records / elapsed if elapsed > 0 else 0.0
        try:
            lag = self.consumer.lag()
        except Exception:  # a progress line must never stop ingest
            lag = None
        log.info(self.counters.line(rate, lag))

    def _close(self) -> None:
        try:
            self.dead_letters.close()
        finally:
            self.consumer.close()
