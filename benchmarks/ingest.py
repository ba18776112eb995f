"""Ingest throughput, Kafka -> store with exactly-once effect, beside a read-and-decode baseline.

The baseline is a plain kafka-python consumer that reads and decodes the same
topic and does nothing else: the ceiling any ingest on this client can reach.
Each ingest run starts a fresh consumer group and a fresh store, and is timed
from its first poll to the last record stored (offsets committed).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from benchmarks.measure import Spread
from ledger.adapters.avro import AvroCodec
from ledger.adapters.persistence import Store
from ledger.bootstrap import KafkaSettings, ingestor, open_ledger
from ledger.services.application import BloodLedger
from ledger.services.ingest import IngestCounters, Ingestor, IngestSettings


def read_and_decode(bootstrap: str, topic: str, records: int) -> float:
    """Records/s of reading the topic from the start and decoding every message."""
    codec = AvroCodec()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    partitions = [
        TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    seen = 0
    started = None
    while seen < records:
        for batch in consumer.poll(timeout_ms=1000, max_records=2000).values():
            started = started or time.perf_counter()
            for record in batch:
                codec.decode(record.value)
            seen += len(batch)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return seen / elapsed


class _Timed:
    """Notes when an ingestor's first batch arrived, and stops it at ``records``.

    Wraps the ingestor's ``ingest`` (one poll: dead letters, facts, positions,
    offsets), so the time measured is the same with or without the wrapper.
    """

    def __init__(self, ingestor: Ingestor, records: int) -> None:
        self.ingestor = ingestor
        self.target = records
        self.first_batch: float | None = None
        self.done_at: float | None = None
        self._ingest = ingestor.ingest
        ingestor.ingest = self.ingest  # type: ignore[method-assign]

    def ingest(self, batch: Any) -> None:
        self.first_batch = self.first_batch or time.perf_counter()
        self._ingest(batch)
        if self.ingestor.counters.records >= self.target:
            self.done_at = time.perf_counter()
            self.ingestor.stop()


def ingest_once(
    bootstrap: str,
    topic: str,
    store: Store,
    records: int,
    batch: int = 2000,
    after_batch: Callable[[BloodLedger], Callable[[], object]] | None = None,
) -> tuple[float, IngestCounters]:
    """Records/s of one ingest into a fresh store (``after_batch``: what the ingest
    also runs after each batch, made for its ledger — the projector, the sealer)."""
    ledger = open_ledger(store)
    try:
        group = f"bench-{uuid.uuid4().hex[:8]}"
        kafka = KafkaSettings(bootstrap=bootstrap, topic=topic, group=group)
        settings = IngestSettings(topic=topic, max_records=batch, progress_every=3600)
        hook = after_batch(ledger) if after_batch is not None else None
        timed = _Timed(ingestor(ledger, kafka, settings, after_batch=hook), records=records)
        counters = timed.ingestor.run()
        assert timed.first_batch is not None and timed.done_at is not None
        return counters.records / (timed.done_at - timed.first_batch), counters
    finally:
        ledger.close()


def compare(bootstrap: str, topic: str, stores: Sequence[Store], records: int) -> dict[str, Any]:
    """Baseline and ingest, alternated run by run so both see the same machine."""
    baseline: list[float] = []
    ingest: list[float] = []
    for store in stores:
        baseline.append(read_and_decode(bootstrap, topic, records))
        rate, counters = ingest_once(bootstrap, topic, store, records)
        assert counters.records == records, counters
        ingest.append(rate)
    b, i = Spread.of(baseline), Spread.of(ingest)
    return {
        "baseline_read_decode": b.to_json(),
        "ingest": i.to_json(),
        "ratio": round(i.median / b.median, 3),
    }
