"""Ingest throughput by the producer's compression codec, all measured in one run.

The same records are published to one topic per codec (kafka-python producer,
its default batching), then ingested into a fresh SQLite store each, codecs
alternated run by run so every codec sees the same machine. Uncompressed is
the baseline: decompression must not cost the ingest more than a few percent.

``python -m benchmarks.compression --records 50000 --runs 3``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from benchmarks.ingest import ingest_once
from benchmarks.machine import RESULTS
from benchmarks.measure import Spread
from benchmarks.workload import encoded, history
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import dlq_topic
from ledger.adapters.persistence.sqlite import SQLiteStore
from ledger.entrypoints.runtime import tune_garbage_collector

CODECS: tuple[str | None, ...] = (None, "gzip", "snappy", "lz4", "zstd")


def _publish(bootstrap: str, messages: list[tuple[str, bytes]], codec: str | None) -> str:
    topic = f"codec-{codec or 'none'}-{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, {topic: 3, dlq_topic(topic): 1})
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, compression_type=codec, linger_ms=20, batch_size=256 * 1024
    )
    for key, value in messages:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()
    return topic


def compare(bootstrap: str, records: int, runs: int, work: Path) -> dict[str, Any]:
    """Ingest rate per codec (records/s) and its ratio to uncompressed, same run."""
    messages = encoded(history(records))
    topics = {codec: _publish(bootstrap, messages, codec) for codec in CODECS}
    rates: dict[str | None, list[float]] = {codec: [] for codec in CODECS}
    for run in range(runs):
        for codec in CODECS:
            store = SQLiteStore(f"sqlite:///{work}/{codec or 'none'}-{run}.db")
            rate, counters = ingest_once(bootstrap, topics[codec], store, len(messages))
            assert counters.records == len(messages), counters
            rates[codec].append(rate)
    plain = Spread.of(rates[None]).median
    return {
        (codec or "none"): {
            **Spread.of(rates[codec]).to_json(),
            "ratio_to_uncompressed": round(Spread.of(rates[codec]).median / plain, 3),
        }
        for codec in CODECS
    }


def main() -> None:
    tune_garbage_collector()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "compression.json")
    args = parser.parse_args()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as work:
        results = compare(broker.bootstrap, args.records, args.runs, Path(work))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for codec, figures in results.items():
        print(
            f"{codec:>6}: {figures['median']:>9,.0f} records/s "
            f"({figures['min']:,.0f}..{figures['max']:,.0f}), "
            f"{figures['ratio_to_uncompressed']:.3f} of uncompressed"
        )


if __name__ == "__main__":
    main()
