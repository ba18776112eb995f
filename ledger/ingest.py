"""Kafka -> ledger ingest with exactly-once effect.

For every poll: decode each message (fastavro, cached schemas); send the ones
that are not facts, untouched, to the dead-letter topic and wait for the
broker's acknowledgement; then record the facts *and* each partition's last
offset in one database transaction; only then commit the Kafka offsets.
After a crash, the ledger's own tracking record says where each partition
was read to, so a replayed message is recognised even when the Kafka offset
commit was lost. Facts are also idempotent by ``event_id``, so a producer's
re-send is a no-op.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eventsourcing.persistence import IntegrityError, Tracking
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata

from ledger.adapters.avro import AvroCodec, NotAFact
from ledger.adapters.kafka import (
    DEFAULT_TOPIC,
    GroupTimeouts,
    dlq_topic,
    make_consumer,
    make_producer,
    upstream_name,
)
from ledger.application import BatchOutcome, BloodLedger
from ledger.domain.facts import ReportedFact

log = logging.getLogger("bloodledger.ingest")

#: How often a chunk is re-tried after a conflicting concurrent write.
CONFLICT_RETRIES = 3
#: How long ``--until-idle`` waits for a first partition assignment.
ASSIGNMENT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class IngestSettings:
    bootstrap: str
    topic: str = DEFAULT_TOPIC
    group: str = "bloodledger-ingest"
    max_records: int = 2000
    until_idle: float | None = None
    progress_every: float = 5.0
    timeouts: GroupTimeouts = field(default_factory=GroupTimeouts)


@dataclass
class IngestCounters:
    """Every consumed record ends in exactly one of the last four counters."""

    records: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    already_recorded: int = 0

    def line(self, rate: float, lag: int | None) -> str:
        lag_text = "?" if lag is None else str(lag)
        return (
            f"ingest: {self.records} records ({rate:,.0f}/s), stored {self.stored}, "
            f"duplicates {self.duplicates}, dead-lettered {self.dead_lettered}, "
            f"already recorded {self.already_recorded}, lag≈{lag_text}"
        )


@dataclass(frozen=True)
class _Chunk:
    """One partition's part of a poll: its decoded facts and where it ends."""

    tp: TopicPartition
    tracking: Tracking
    facts: list[ReportedFact]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, position each partition just after what the ledger recorded."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        for tp in revoked:
            self.ingestor.positions.pop(tp, None)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.ingestor.seek_to_recorded(assigned)


class Ingestor:
    """One ingest worker: a consumer-group member writing to the ledger."""

    def __init__(
        self,
        ledger: BloodLedger,
        codec: AvroCodec,
        settings: IngestSettings,
        *,
        after_batch: Callable[[], object] | None = None,
    ) -> None:
        self.ledger = ledger
        self.after_batch = after_batch
        self.codec = codec
        self.settings = settings
        self.counters = IngestCounters()
        self.positions: dict[TopicPartition, int | None] = {}
        self._stopping = False
        self._assigned_once = False
        self._dead_letters_pending = False
        self._consumer: KafkaConsumer = make_consumer(
            settings.bootstrap, settings.group, settings.timeouts, max_records=settings.max_records
        )
        self._producer: KafkaProducer = make_producer(settings.bootstrap)

    def stop(self) -> None:
        """Ask the loop to stop after the current batch (safe from a signal handler)."""
        self._stopping = True

    def seek_to_recorded(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            recorded = self.ledger.position(upstream_name(tp.topic, tp.partition))
            self.positions[tp] = recorded
            if recorded is not None:
                self._consumer.seek(tp, recorded + 1)
        self._assigned_once = True
        log.info("assigned partitions %s", sorted(tp.partition for tp in partitions))

    def run(self, stop: Callable[[], bool] = lambda: False) -> IngestCounters:
        """Consume until stopped (or idle for ``until_idle`` seconds); returns the counts."""
        self._consumer.subscribe([self.settings.topic], listener=_Rebalance(self))
        started = last_report = last_records = time.monotonic()
        try:
            while not self._stopping and not stop():
                batch = self._consumer.poll(timeout_ms=500, max_records=self.settings.max_records)
                now = time.monotonic()
                if batch:
                    self._ingest(batch)
                    if self.after_batch is not None:
                        self.after_batch()
                    last_records = now
                if now - last_report >= self.settings.progress_every:
                    self._report(now - started)
                    last_report = now
                if self._idle_long_enough(now, started, last_records):
                    break
        finally:
            self._report(time.monotonic() - started)
            self._close()
        return self.counters

    def _idle_long_enough(self, now: float, started: float, last_records: float) -> bool:
        until_idle = self.settings.until_idle
        if until_idle is None:
            return False
        if not self._assigned_once:
            if now - started > ASSIGNMENT_TIMEOUT_S:
                log.error("no partition assigned within %.0f s; giving up", ASSIGNMENT_TIMEOUT_S)
                return True
            return False
        return now - last_records >= until_idle

    def _ingest(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Store one poll: dead letters first, then all facts and positions in one transaction."""
        chunks: list[_Chunk] = []
        for tp, records in batch.items():
            self.counters.records += len(records)
            chunk = self._chunk(tp, records)
            if chunk is not None:
                chunks.append(chunk)
        if self._dead_letters_pending:
            self._producer.flush()  # acknowledged before their offsets are recorded
            self._dead_letters_pending = False
        self._record(chunks)
        for chunk in chunks:
            self.positions[chunk.tp] = chunk.tracking.notification_id
        offsets = {
            tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batch.items()
        }
        try:
            self._consumer.commit(offsets)
        except CommitFailedError:
            log.warning("offset commit refused after a rebalance; the ledger's tracking governs")

    def _chunk(self, tp: TopicPartition, records: list[ConsumerRecord]) -> _Chunk | None:
        """The records of one partition not yet recorded, decoded (or dead-lettered)."""
        recorded = self.positions.get(tp)
        fresh = [r for r in records if recorded is None or r.offset > recorded]
        self.counters.already_recorded += len(records) - len(fresh)
        if not fresh:
            return None
        tracking = Tracking(upstream_name(tp.topic, tp.partition), fresh[-1].offset)
        return _Chunk(tp, tracking, self._decode_or_dead_letter(fresh))

    def _decode_or_dead_letter(self, records: list[ConsumerRecord]) -> list[ReportedFact]:
        facts: list[ReportedFact] = []
        for record in records:
            try:
                facts.append(self._decode(record))
            except NotAFact as reason:
                self._dead_letter(record, reason)
        return facts

    def _decode(self, record: ConsumerRecord) -> ReportedFact:
        fact = self.codec.decode(record.value)
        if record.key is not None and record.key != fact.din.encode():
            msg = "message key is not the envelope's DIN"
            raise NotAFact("KEY_MISMATCH", msg)
        return fact

    def _dead_letter(self, record: ConsumerRecord, reason: NotAFact) -> None:
        headers = [
            ("bloodledger.error.class", reason.error_class.encode()),
            ("bloodledger.error.message", reason.message.encode()),
            ("bloodledger.origin.topic", record.topic.encode()),
            ("bloodledger.origin.partition", str(record.partition).encode()),
            ("bloodledger.origin.offset", str(record.offset).encode()),
        ]
        self._producer.send(
            dlq_topic(record.topic), key=record.key, value=record.value, headers=headers
        )
        self._dead_letters_pending = True
        self.counters.dead_lettered += 1

    def _record(self, chunks: list[_Chunk]) -> None:
        """All chunks in one transaction; if that conflicts, each chunk on its own."""
        if not chunks:
            return
        facts = [fact for chunk in chunks for fact in chunk.facts]
        try:
            self._count(self.ledger.record(facts, [chunk.tracking for chunk in chunks]))
        except IntegrityError:
            for chunk in chunks:
                self._record_chunk(chunk)

    def _record_chunk(self, chunk: _Chunk) -> None:
        """One partition's chunk, telling an already-recorded position from a conflict."""
        name = chunk.tracking.application_name
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                self._count(self.ledger.record(chunk.facts, [chunk.tracking]))
            except IntegrityError:
                recorded = self.ledger.position(name)
                if recorded is not None and recorded >= chunk.tracking.notification_id:
                    self.counters.already_recorded += len(chunk.facts)
                    return
                log.warning("write conflict on %s (attempt %d); retrying", name, attempt)
                continue
            return
        msg = f"could not record a chunk of {name} after {CONFLICT_RETRIES} attempts"
        raise RuntimeError(msg)

    def _count(self, outcome: BatchOutcome) -> None:
        self.counters.stored += outcome.facts - outcome.duplicates
        self.counters.duplicates += outcome.duplicates

    def _lag(self) -> int | None:
        """Approximate: the broker's high watermark as last reported in a fetch."""
        total = 0
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is None:
                return None
            total += max(0, high - self._consumer.position(tp))
        return total

    def _report(self, elapsed: float) -> None:
        rate = self.counters.records / elapsed if elapsed > 0 else 0.0
        try:
            lag = self._lag()
        except Exception:  # a progress line must never stop ingest
            lag = None
        log.info(self.counters.line(rate, lag))

    def _close(self) -> None:
        self._producer.flush()
        self._producer.close()
        self._consumer.close()
