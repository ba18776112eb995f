"""Kafka clients configured the way the ledger needs them (kafka-python).

Group timeouts are short by default: the embedded broker (Tansu) holds a
group join for the whole rebalance timeout, which kafka-python sets from
``max_poll_interval_ms``; with the usual five minutes the first join stalls
for minutes. Against Apache Kafka, longer values are fine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer

DEFAULT_TOPIC = "bloodledger.events"
DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class GroupTimeouts:
    """Consumer-group liveness settings (milliseconds)."""

    max_poll_interval_ms: int = 5000
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000


def upstream_name(topic: str, partition: int) -> str:
    """The tracking name of a Kafka partition in the ledger's store."""
    return f"kafka:{topic}:{partition}"


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def make_consumer(
    bootstrap: str, group: str, timeouts: GroupTimeouts, *, max_records: int
) -> KafkaConsumer:
    """A consumer in ``group`` that never commits by itself."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=f"bloodledger-{group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        max_poll_interval_ms=timeouts.max_poll_interval_ms,
        session_timeout_ms=timeouts.session_timeout_ms,
        heartbeat_interval_ms=timeouts.heartbeat_interval_ms,
    )


def make_producer(bootstrap: str) -> KafkaProducer:
    """A producer that waits for the broker's acknowledgement of every record."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="bloodledger-producer",
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=16 * 1024 * 1024,
        retries=5,
    )


def publish(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[str, bytes]],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send (key, value) messages to ``topic``, keyed by DIN; returns the count sent."""
    producer = make_producer(bootstrap)
    sent = 0
    try:
        for key, value in messages:
            producer.send(topic, key=key.encode(), value=value)
            sent += 1
            if progress is not None and sent % 5000 == 0:
                progress(sent)
        producer.flush()
    finally:
        producer.close()
    return sent
