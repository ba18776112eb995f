"""Ingest throughput, Kafka -> store with exactly-once effect, beside a read-and-decode baseline.

The baseline is a plain kafka-python consumer that reads and decodes the same
topic and does nothing else: the ceiling any ingest on this client can reach.
Each ingest run starts a fresh consumer group and a fresh store, and is timed
from its first poll to the last record stored (offsets committed).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from benchmarks.measure import Spread
from ledger.adapters.avro import AvroCodec
from ledger.application import BloodLedger
from ledger.ingest import IngestCounters, Ingestor, IngestSettings
from ledger.store import StoreURL


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


class _Timed(Ingestor):
    """An ingestor that notes when the first batch arrived and stops at ``records``."""

    def __init__(self, *args: Any, records: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = records
        self.first_batch: float | None = None
        self.done_at: float | None = None

    def _ingest(self, batch: Any) -> None:
        self.first_batch = self.first_batch or time.perf_counter()
        super()._ingest(batch)
        if self.counters.records >= self.target:
            self.done_at = time.perf_counter()
            self.stop()


def ingest_once(
    bootstrap: str, topic: str, store: StoreURL, records: int, batch: int = 2000
) -> tuple[float, IngestCounters]:
    ledger = BloodLedger.open(store)
    try:
        settings = IngestSettings(
            bootstrap=bootstrap,
            topic=topic,
            group=f"bench-{uuid.uuid4().hex[:8]}",
            max_records=batch,
            progress_every=3600,
        )
        ingestor = _Timed(ledger, AvroCodec(), settings, records=records)
        counters = ingestor.run()
        assert ingestor.first_batch is not None and ingestor.done_at is not None
        return counters.records / (ingestor.done_at - ingestor.first_batch), counters
    finally:
        ledger.close()


def compare(bootstrap: str, topic: str, stores: list[StoreURL], records: int) -> dict[str, Any]:
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
