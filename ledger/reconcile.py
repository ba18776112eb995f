"""Reconciliation: every record on the topic is accounted for, or named.

Reads the events topic and its dead-letter topic from the beginning, and the
store's notification log, and puts each record in exactly one class:

- **stored** — its fact's ``event_id`` is in the store (first time seen);
- **duplicate** — a later record with an ``event_id`` already seen and stored;
- **dead-lettered** — found in the dead-letter topic by its origin
  (topic, partition, offset);
- **unaccounted** — none of these: listed, and the command exits non-zero.

It also checks that no fact is stored twice in one stream.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ledger.adapters.avro import AvroCodec, NotAFact
from ledger.adapters.kafka import dlq_topic
from ledger.application import BloodLedger
from ledger.deadletter import ORIGIN_OFFSET, ORIGIN_PARTITION, ORIGIN_TOPIC
from ledger.domain.events import Fact
from ledger.ingest import decode_record

Origin = tuple[str, int, int]


@dataclass(frozen=True)
class Unaccounted:
    topic: str
    partition: int
    offset: int
    why: str


@dataclass
class Reconciliation:
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    unaccounted: list[Unaccounted] = field(default_factory=list)
    stored_twice: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unaccounted and not self.stored_twice

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def text(self) -> str:
        lines = [
            f"records {self.records}: stored {self.stored}, duplicates {self.duplicates}, "
            f"dead-lettered {self.dead_lettered}, unaccounted {len(self.unaccounted)}",
            f"facts stored twice in one stream: {len(self.stored_twice)}",
        ]
        lines += [
            f"  UNACCOUNTED {u.topic}[{u.partition}]@{u.offset}: {u.why}" for u in self.unaccounted
        ]
        lines += [f"  STORED TWICE event {event_id}" for event_id in self.stored_twice]
        return "\n".join(lines)


def read_topic(bootstrap: str, topic: str, idle_s: float = 3.0) -> Iterator[ConsumerRecord]:
    """Every record of every partition, from the beginning, until idle.

    Not by end offsets: the embedded broker reports the start of the last
    batch as the end, so the read stops when nothing more arrives.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(idle_s * 1000),
    )
    try:
        partitions = _partitions(consumer, topic)
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        yield from consumer
    finally:
        consumer.close()


def _partitions(consumer: KafkaConsumer, topic: str, wait_s: float = 10.0) -> list[TopicPartition]:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        time.sleep(0.2)
    return []


def stored_fact_counts(ledger: BloodLedger) -> collections.Counter[tuple[str, str]]:
    """How often each (stream id, event id) fact is stored: the whole notification log."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    start = 1
    while page := ledger.recorder.select_notifications(start=start, limit=1000):
        for notification in page:
            event = ledger.mapper.to_domain_event(notification)
            if isinstance(event, Fact):
                counts[(str(event.originator_id), event.event_id)] += 1
        start = page[-1].id + 1
    return counts


def stored_event_ids(ledger: BloodLedger) -> tuple[set[str], list[str]]:
    """Event ids in the store, and those stored more than once in one stream."""
    per_stream = stored_fact_counts(ledger)
    twice = sorted({event_id for (_, event_id), n in per_stream.items() if n > 1})
    return {event_id for _, event_id in per_stream}, twice


def dead_letter_origins(bootstrap: str, topic: str) -> set[Origin]:
    origins: set[Origin] = set()
    for record in read_topic(bootstrap, dlq_topic(topic)):
        headers = {k: v.decode() for k, v in record.headers or []}
        if {ORIGIN_TOPIC, ORIGIN_PARTITION, ORIGIN_OFFSET} <= headers.keys():
            origins.add(
                (headers[ORIGIN_TOPIC], int(headers[ORIGIN_PARTITION]), int(headers[ORIGIN_OFFSET]))
            )
    return origins


def reconcile(ledger: BloodLedger, bootstrap: str, topic: str, codec: AvroCodec) -> Reconciliation:
    stored, twice = stored_event_ids(ledger)
    dead = dead_letter_origins(bootstrap, topic)
    result = Reconciliation(stored_twice=twice)
    seen: set[str] = set()
    for record in read_topic(bootstrap, topic):
        result.records += 1
        origin = (record.topic, record.partition, record.offset)
        try:
            event_id = decode_record(codec, record).event_id
        except NotAFact as reason:
            if origin in dead:
                result.dead_lettered += 1
            else:
                result.unaccounted.append(
                    Unaccounted(*origin, f"not a fact ({reason.error_class}), not dead-lettered")
                )
            continue
        if event_id in stored:
            result.duplicates += event_id in seen
            result.stored += event_id not in seen
            seen.add(event_id)
        elif origin in dead:
            result.dead_lettered += 1
        else:
            result.unaccounted.append(
                Unaccounted(*origin, "a fact whose event id is not in the store")
            )
    return result
