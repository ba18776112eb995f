"""Every Kafka compression codec is consumed, and a batch that cannot be read holds only its
partition, with an error naming it — no crash, no crash loop, nothing lost.

Producers: librdkafka (``confluent-kafka``, an independent client) and
kafka-python, each with gzip, snappy, lz4 and zstd, against the real broker.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Sequence

from confluent_kafka import Producer
from kafka import KafkaProducer

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import dlq_topic
from ledger.adapters.persistence import store_for
from ledger.bootstrap import KafkaSettings, ingestor, open_ledger, reconcile_topic
from ledger.domain.facts import ReportedFact
from ledger.services.ingest import IngestSettings
from simulator import DemoConfig, generate
from tests.integration.support import ingest_args

CODECS = ["gzip", "snappy", "lz4", "zstd"]
STREAM = generate(DemoConfig(seed=5, days=3, hospitals=2, donations_per_day=8))


def _fresh_topic(broker: EmbeddedBroker, partitions: int = 3) -> str:
    topic = f"codec-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker.bootstrap, {topic: partitions, dlq_topic(topic): 1})
    return topic


def _librdkafka(bootstrap: str, codec: str) -> Producer:
    return Producer(
        {"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20, "acks": "all"}
    )


def _produce_librdkafka(
    bootstrap: str, topic: str, codec: str | None, facts: Sequence[ReportedFact], partition: int
) -> None:
    producer, avro = _librdkafka(bootstrap, codec or "none"), AvroCodec()
    for fact in facts:
        producer.produce(topic, key=fact.din.encode(), value=avro.encode(fact), partition=partition)
    assert producer.flush(30) == 0


def _produce_kafka_python(
    bootstrap: str,
    topic: str,
    codec: str | None,
    facts: Sequence[ReportedFact],
    partition: int | None = None,
) -> None:
    producer, avro = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec), AvroCodec()
    for fact in facts:
        producer.send(topic, key=fact.din.encode(), value=avro.encode(fact), partition=partition)
    producer.flush()
    producer.close()


def test_each_codec_from_each_client_is_ingested_and_reconciles(
    broker: EmbeddedBroker, sqlite_url: str
) -> None:
    """One partition per (client, codec), each with the facts of its own donations."""
    pairs = [(client, codec) for client in ("librdkafka", "kafka-python") for codec in CODECS]
    topic = _fresh_topic(broker, partitions=len(pairs))
    dins = sorted({f.din for f in STREAM.facts})
    sent: dict[int, int] = {}
    for partition, (client, codec) in enumerate(pairs):
        mine = set(dins[partition :: len(pairs)])
        facts = [f for f in STREAM.facts if f.din in mine]
        produce = _produce_librdkafka if client == "librdkafka" else _produce_kafka_python
        produce(broker.bootstrap, topic, codec, facts, partition=partition)
        sent[partition] = len(facts)
    ledger = open_ledger(store_for(sqlite_url))
    try:
        kafka = KafkaSettings(bootstrap=broker.bootstrap, topic=topic, group=f"g-{topic}")
        counters = ingestor(ledger, kafka, IngestSettings(topic=topic, until_idle=1.5)).run()
        assert counters.records == len(STREAM.facts)
        assert counters.dead_lettered == 0
        assert counters.stored + counters.duplicates == len(STREAM.facts)
        for partition, count in sent.items():
            assert ledger.position(f"kafka:{topic}:{partition}") == count - 1, pairs[partition]
        result = reconcile_topic(ledger, broker.bootstrap, topic)
        assert result.ok, result.text()
        assert (result.stored, result.duplicates) == (counters.stored, counters.duplicates)
    finally:
        ledger.close()


#: ``bloodledger ingest`` in a client that lacks the lz4 codec (as a deployment might).
WITHOUT_LZ4 = (
    "import sys, kafka.codec as codec\n"
    "codec.has_lz4 = lambda: False\n"
    "from ledger.entrypoints.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _ingest_without_lz4(bootstrap: str, topic: str, url: str) -> subprocess.CompletedProcess[str]:
    args = ingest_args(bootstrap, topic, url, "--until-idle", "2")
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_LZ4, *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_a_batch_that_cannot_be_decoded_holds_its_partition_without_a_crash_loop(
    broker: EmbeddedBroker, sqlite_url: str
) -> None:
    topic = _fresh_topic(broker, partitions=2)
    half = len(STREAM.facts) // 2
    plain, squeezed = STREAM.facts[:half], STREAM.facts[half:]
    _produce_kafka_python(broker.bootstrap, topic, None, plain, partition=0)
    _produce_librdkafka(broker.bootstrap, topic, "lz4", squeezed, partition=1)

    for _ in range(2):  # the same stop each time: the batch stays, nothing is skipped
        held = _ingest_without_lz4(broker.bootstrap, topic, sqlite_url)
        assert held.returncode == 3, held.stderr
        assert f"the batch at {topic}[1]@0 cannot be decoded" in held.stderr
        assert "UnsupportedCodecError" in held.stderr
        assert "Traceback" not in held.stderr
    ledger = open_ledger(store_for(sqlite_url))
    try:
        assert ledger.position(f"kafka:{topic}:0") == len(plain) - 1
        assert ledger.position(f"kafka:{topic}:1") is None
        assert not reconcile_topic(ledger, broker.bootstrap, topic).ok  # partition 1 unread
    finally:
        ledger.close()

    fixed = subprocess.run(  # the operator installs the codec (here: a client that has it)
        [sys.executable, "-m", "ledger.entrypoints.cli",
         *ingest_args(broker.bootstrap, topic, sqlite_url, "--until-idle", "2")],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    ledger = open_ledger(store_for(sqlite_url))
    try:
        result = reconcile_topic(ledger, broker.bootstrap, topic)
        assert result.ok, result.text()
        assert result.stored + result.duplicates == len(STREAM.facts)
    finally:
        ledger.close()
