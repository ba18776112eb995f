"""Transactional producers (Kafka Streams, Debezium, Flink, outbox relays): only what a
producer committed is a fact.

The ingest and the reconciler read with ``isolation_level="read_committed"``, so
against Apache Kafka the records of an aborted transaction are never read. The
embedded broker (Tansu) does not tell consumers which transactions were aborted:
a read_committed consumer still gets those records there — shown below, and
stated in ``docs/operations.md``, so nobody mistakes the demo broker for the
production one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from confluent_kafka import Producer
from kafka import KafkaConsumer, TopicPartition

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import (
    ISOLATION_LEVEL,
    GroupConsumer,
    GroupTimeouts,
    TopicReader,
    dlq_topic,
)
from ledger.adapters.persistence import store_for
from ledger.bootstrap import KafkaSettings, ingestor, open_ledger, reconcile_topic
from ledger.domain.facts import ReportedFact
from ledger.services.ingest import IngestSettings
from simulator import DemoConfig, generate

FACTS = generate(DemoConfig(seed=17, days=2, hospitals=1, donations_per_day=4)).facts


def _transactional(bootstrap: str) -> Producer:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"relay-{uuid.uuid4().hex[:8]}"}
    )
    producer.init_transactions(30)
    return producer


def _in_transaction(
    producer: Producer, topic: str, facts: Sequence[ReportedFact], *, commit: bool
) -> None:
    codec = AvroCodec()
    producer.begin_transaction()
    for fact in facts:
        producer.produce(topic, key=fact.din.encode(), value=codec.encode(fact))
    producer.flush(30)  # on the broker before the transaction ends
    if commit:
        producer.commit_transaction(30)
    else:
        producer.abort_transaction(30)


def _topic(broker: EmbeddedBroker) -> str:
    topic = f"txn-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker.bootstrap, {topic: 1, dlq_topic(topic): 1})
    return topic


def test_committed_transactions_are_ingested_completely_without_dead_letters(
    broker: EmbeddedBroker, sqlite_url: str
) -> None:
    topic = _topic(broker)
    producer = _transactional(broker.bootstrap)
    _in_transaction(producer, topic, FACTS[:20], commit=True)
    _in_transaction(producer, topic, FACTS[20:30], commit=True)
    ledger = open_ledger(store_for(sqlite_url))
    try:
        kafka = KafkaSettings(bootstrap=broker.bootstrap, topic=topic, group=f"g-{topic}")
        counters = ingestor(ledger, kafka, IngestSettings(topic=topic, until_idle=1.5)).run()
        assert (counters.records, counters.stored + counters.duplicates) == (30, 30)
        assert counters.dead_lettered == 0  # the transactions' control records are no facts
        result = reconcile_topic(ledger, broker.bootstrap, topic)
        assert result.ok and result.records == 30, result.text()
    finally:
        ledger.close()
    assert TopicReader(broker.bootstrap).dead_letter_origins(topic) == {}


def test_the_ingest_and_the_reconciler_read_committed_records_only(
    broker: EmbeddedBroker,
) -> None:
    assert ISOLATION_LEVEL == "read_committed"
    consumer = GroupConsumer(broker.bootstrap, "g-config", GroupTimeouts(), max_records=10)
    try:
        assert consumer.config["isolation_level"] == "read_committed"
    finally:
        consumer.close()
    reader = TopicReader(broker.bootstrap)._consumer()
    try:
        assert reader.config["isolation_level"] == "read_committed"
    finally:
        reader.close()


def test_the_embedded_broker_does_not_filter_aborted_records(broker: EmbeddedBroker) -> None:
    """A limitation of Tansu, not of the ledger: Apache Kafka sends the aborted
    transactions with each fetch and a read_committed consumer skips them."""
    topic = _topic(broker)
    producer = _transactional(broker.bootstrap)
    _in_transaction(producer, topic, FACTS[:20], commit=True)
    _in_transaction(producer, topic, FACTS[20:40], commit=False)
    _in_transaction(producer, topic, FACTS[40:50], commit=True)
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        isolation_level="read_committed",
    )
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        read = sum(1 for _ in consumer)
    finally:
        consumer.close()
    assert read == 50  # with Apache Kafka: 30
