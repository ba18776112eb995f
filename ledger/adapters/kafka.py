"""Kafka, as the ledger uses it (kafka-python): the ingest's consumer, producers (the
HTTP submission's publisher among them), readers.

Group timeouts are short by default: the embedded broker (Tansu) holds a
group join for the whole rebalance timeout, which kafka-python sets from
``max_poll_interval_ms``; with the usual five minutes the first join stalls
for minutes. Against Apache Kafka, longer values are fine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from ledger.services.ports import (
    KafkaRecord,
    Origin,
    Partition,
    PartitionsCallback,
    Unavailable,
    UndecodableBatch,
    first_line,
)

log = logging.getLogger("bloodledger.kafka")

DEFAULT_TOPIC = "bloodledger.events"
#: Where the ledger publishes its recall notices (key: the facility that must act).
DEFAULT_NOTICES_TOPIC = "bloodledger.notices"
DLQ_SUFFIX = ".dlq"

#: Dead-letter headers: why a record is not a fact, and where it came from.
ERROR_CLASS = "bloodledger.error.class"
ERROR_MESSAGE = "bloodledger.error.message"
ORIGIN_TOPIC = "bloodledger.origin.topic"
ORIGIN_PARTITION = "bloodledger.origin.partition"
ORIGIN_OFFSET = "bloodledger.origin.offset"
#: Further headers saying why (for an event-id conflict: where the first fact is stored).
DETAIL_PREFIX = "bloodledger.conflict."
#: Records of aborted producer transactions are never read (against a broker that
#: filters them: Apache Kafka does, the embedded Tansu broker does not).
ISOLATION_LEVEL = "read_committed"


@dataclass(frozen=True)
class GroupTimeouts:
    """Consumer-group liveness settings (milliseconds)."""

    max_poll_interval_ms: int = 5000
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


#: How long a producer gathers records into a batch (milliseconds).
LINGER_MS = 20
#: How the ledger's producers send: every record acknowledged by all in-sync replicas
#: (and idempotently, kafka-python's default where the broker supports it: a retry is
#: written once, in order).
PRODUCER_SETTINGS: Mapping[str, object] = {
    "client_id": "bloodledger-producer",
    "acks": "all",
    "linger_ms": LINGER_MS,
    "batch_size": 256 * 1024,
    "max_request_size": 16 * 1024 * 1024,
    "retries": 5,
}


def make_producer(bootstrap: str, **settings: object) -> KafkaProducer:
    """A producer that waits for the broker's acknowledgement of every record
    (``settings``: further kafka-python settings, or ones to use instead)."""
    return KafkaProducer(bootstrap_servers=bootstrap, **{**PRODUCER_SETTINGS, **settings})


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


class KafkaEventPublisher:
    """The HTTP submission's :class:`~ledger.services.ports.EventPublisher` (and the
    notice relay's: ``client_id`` tells them apart at the broker).

    One producer (:func:`make_producer`'s settings) serves every thread: kafka-python's
    producer is thread-safe. It is made at the first publish, so a server starts while
    the broker is down, and made again after a non-retriable failure (an idempotent
    producer that failed so does not recover). ``timeout_s`` bounds reaching the
    broker, waiting for metadata and waiting for the acknowledgements of a publish;
    past it, :class:`~ledger.services.ports.Unavailable`.
    """

    def __init__(
        self, bootstrap: str, *, timeout_s: float = 10.0, client_id: str = "bloodledger-submission"
    ) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self.client_id = client_id
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._closed = False

    def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Send the records in order (one key's records reach one partition in this
        order) and return once the broker has acknowledged every one."""
        if not records:
            return
        deadline = time.monotonic() + self.timeout_s
        producer = self._current(deadline)
        try:
            futures = [producer.send(topic, key=key, value=value) for key, value in records]
            for future in futures:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
        except KafkaError as error:
            # Made again at the next publish, whatever the error: an idempotent producer
            # whose id the broker forgot (a broker restarted empty) retries for ever.
            self._discard(producer)
            raise self._unavailable(error, f"{len(records)} records to {topic}") from None

    def _current(self, deadline: float) -> KafkaProducer:
        """The shared producer, made now if there is none (one thread makes it)."""
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            msg = "the broker could not be reached in time (another request is connecting)"
            raise Unavailable(msg)
        try:
            if self._closed:
                raise Unavailable("the event publisher is closed")
            if self._producer is None:
                wait_ms = max(1, int((deadline - time.monotonic()) * 1000))
                timeout_ms = max(100, int(self.timeout_s * 1000))
                try:
                    self._producer = make_producer(
                        self.bootstrap,
                        client_id=self.client_id,
                        bootstrap_timeout_ms=wait_ms,
                        max_block_ms=timeout_ms,
                        # A record is given up once its publish has: the producer then
                        # holds nothing its closing must wait for.
                        delivery_timeout_ms=timeout_ms,
                        request_timeout_ms=timeout_ms - LINGER_MS,
                    )
                except KafkaError as error:
                    raise self._unavailable(error, "connecting") from None
            return self._producer
        finally:
            self._lock.release()

    def _discard(self, producer: KafkaProducer) -> None:
        """Let a failed producer go, in the background: its records expire within
        ``timeout_s``, then it closes (the caller, the ingest's poll loop among them, is
        not held)."""
        with self._lock:
            if self._producer is producer:
                self._producer = None
        closing = threading.Thread(
            target=_let_go, args=(producer, 2 * self.timeout_s), name="producer-close", daemon=True
        )
        closing.start()

    def _unavailable(self, error: KafkaError, what: str) -> Unavailable:
        log.warning("broker %s unavailable (%s): %s", self.bootstrap, what, first_line(error))
        return Unavailable(
            f"the broker did not acknowledge the events within {self.timeout_s:g} s "
            f"({type(error).__name__})"
        )

    def close(self) -> None:
        """Wait (a little) for records still being sent, then let the producer go."""
        with self._lock:
            self._closed = True
            producer, self._producer = self._producer, None
        if producer is not None:
            _let_go(producer, self.timeout_s)


def _let_go(producer: KafkaProducer, timeout_s: float) -> None:
    """Close a producer, waiting at most ``timeout_s`` for what it still holds; records
    the broker never acknowledged are given up (their senders were told, or will send
    them again: nothing of the ledger's rests on them), and said so."""
    try:
        producer.close(timeout=timeout_s)
    except KafkaError as error:
        log.warning("producer closed with records unacknowledged: %s", first_line(error))


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
    def __init__(self, on_assigned: PartitionsCallback, on_revoked: PartitionsCallback) -> None:
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.on_assigned([Partition(tp.topic, tp.partition) for tp in assigned])

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.on_revoked([Partition(tp.topic, tp.partition) for tp in revoked])


class GroupConsumer:
    """The ingest's consumer (:class:`~ledger.services.ports.RecordConsumer`): a member
    of ``group`` that never commits by itself."""

    def __init__(
        self, bootstrap: str, group: str, timeouts: GroupTimeouts, *, max_records: int
    ) -> None:
        self._bootstrap = bootstrap
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id=f"bloodledger-{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            max_poll_interval_ms=timeouts.max_poll_interval_ms,
            session_timeout_ms=timeouts.session_timeout_ms,
            heartbeat_interval_ms=timeouts.heartbeat_interval_ms,
            isolation_level=ISOLATION_LEVEL,
        )

    @property
    def config(self) -> dict[str, object]:
        """The Kafka client's configuration, as it runs."""
        config: dict[str, object] = self._consumer.config
        return config

    def subscribe(
        self, topic: str, on_assigned: PartitionsCallback, on_revoked: PartitionsCallback
    ) -> None:
        self._consumer.subscribe([topic], listener=_Listener(on_assigned, on_revoked))

    def poll(self, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[KafkaRecord]]:
        try:
            batch = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        except Exception as error:  # a batch the client cannot read: find which one
            raise self._undecodable(error) from None
        return {Partition(tp.topic, tp.partition): records for tp, records in batch.items()}

    def _undecodable(self, error: Exception) -> UndecodableBatch | Exception:
        """Which partition's batch failed: each active partition is read once by a
        probe of its own, from where this consumer stands (the group member's state
        is left as it is); the error itself if no partition fails again."""
        reason = first_line(error)
        if not reason.startswith(type(error).__name__):
            reason = f"{type(error).__name__}: {reason}"
        paused = self._consumer.paused()
        for suspect in sorted(tp for tp in self._consumer.assignment() if tp not in paused):
            offset = self._consumer.position(suspect)
            probe = KafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                isolation_level=ISOLATION_LEVEL,
                fetch_max_wait_ms=200,
            )
            try:
                probe.assign([suspect])
                probe.seek(suspect, offset)
                probe.poll(timeout_ms=1000, max_records=1)
            except Exception:
                return UndecodableBatch(Partition(suspect.topic, suspect.partition), offset, reason)
            finally:
                probe.close()
        return error

    def pause(self, partition: Partition) -> None:
        self._consumer.pause(TopicPartition(*partition))

    def seek(self, partition: Partition, offset: int) -> None:
        self._consumer.seek(TopicPartition(*partition), offset)

    def seek_to_beginning(self, partition: Partition) -> None:
        self._consumer.seek_to_beginning(TopicPartition(*partition))

    def commit(self, offsets: Mapping[Partition, int]) -> bool:
        try:
            self._consumer.commit(
                {TopicPartition(*tp): OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()}
            )
        except (CommitFailedError, KafkaError) as error:
            log.debug("offset commit refused: %s", type(error).__name__)
            return False
        return True

    def lag(self) -> int | None:
        """Approximate: the broker's high watermark as last reported in a fetch."""
        total = 0
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is None:
                return None
            total += max(0, high - self._consumer.position(tp))
        return total

    def close(self) -> None:
        self._consumer.close()


def origin_of(letter: KafkaRecord) -> Origin | None:
    """Where a dead letter came from (``None`` if its headers do not say)."""
    headers = dict(letter.headers or [])
    try:
        return (
            (headers[ORIGIN_TOPIC] or b"").decode(),
            int(headers[ORIGIN_PARTITION] or b""),
            int(headers[ORIGIN_OFFSET] or b""),
        )
    except (KeyError, ValueError):
        return None


def error_class_of(letter: KafkaRecord) -> str:
    return (dict(letter.headers or []).get(ERROR_CLASS) or b"").decode()


class TopicReader:
    """Reads whole topics from the beginning, outside any group (for reconciliation),
    committed records only."""

    def __init__(self, bootstrap: str, idle_s: float = 3.0) -> None:
        self.bootstrap = bootstrap
        self.idle_s = idle_s

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            consumer_timeout_ms=int(self.idle_s * 1000),
            isolation_level=ISOLATION_LEVEL,
        )

    def records(self, topic: str) -> Iterator[KafkaRecord]:
        """Every record of every partition, from the beginning, until idle.

        Not by end offsets: the embedded broker reports the start of the last
        batch as the end, so the read stops when nothing more arrives.
        """
        consumer = self._consumer()
        try:
            partitions = _partitions(consumer, topic)
            if not partitions:
                return
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            yield from consumer
        finally:
            consumer.close()

    def tail(self, topic: str, stop: Callable[[], bool], *, follow: bool) -> Iterator[KafkaRecord]:
        """Every record of every partition from the beginning, then — with ``follow`` —
        each new one as it arrives, until ``stop()`` (a topic not there yet is waited
        for); without, until nothing has arrived for ``idle_s``. Polls briefly, so a
        stop is seen within a fraction of a second."""
        consumer = self._consumer()
        try:
            partitions = _partitions(consumer, topic)
            while not partitions and follow and not stop():
                partitions = _partitions(consumer, topic, wait_s=1.0)
            if not partitions:
                return
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            quiet_since = time.monotonic()
            while not stop():
                records = [r for batch in consumer.poll(timeout_ms=200).values() for r in batch]
                if records:
                    quiet_since = time.monotonic()
                    yield from records
                elif not follow and time.monotonic() - quiet_since >= self.idle_s:
                    return
        finally:
            consumer.close()

    def records_from(self, topic: str, partition: int, offset: int) -> Iterator[KafkaRecord]:
        """One partition's records from ``offset`` to its end (as the broker reports it
        when the read starts; the embedded broker reports the start of the last batch,
        so the read goes on until a poll past it finds nothing more)."""
        consumer = self._consumer()
        try:
            if not _partitions(consumer, topic):
                return
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            end = consumer.end_offsets([tp])[tp]
            if offset >= end:
                return
            consumer.seek(tp, offset)
            deadline = time.monotonic() + self.idle_s * 10
            while time.monotonic() < deadline:
                batch = consumer.poll(timeout_ms=200)
                records = batch.get(tp, [])
                yield from records
                if not records and consumer.position(tp) >= end:
                    return
        finally:
            consumer.close()

    def dead_letter_origins(self, topic: str) -> dict[Origin, str]:
        """Where each dead letter of ``topic`` came from, with its error class."""
        found: dict[Origin, str] = {}
        for letter in self.records(dlq_topic(topic)):
            origin = origin_of(letter)
            if origin is not None:
                found[origin] = error_class_of(letter)
        return found


def _partitions(consumer: KafkaConsumer, topic: str, wait_s: float = 10.0) -> list[TopicPartition]:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        time.sleep(0.2)
    return []


class TopicEnds:
    """A topic's end offsets, per partition, for the ingest-lag gauge; asked at most
    every ``ttl_s`` seconds (a scrape must not become a broker round trip each time).
    Thread-safe. The embedded broker reports the start of its last batch as the end,
    so there the lag reads up to one batch short."""

    def __init__(self, bootstrap: str, topic: str, ttl_s: float = 5.0) -> None:
        self.bootstrap, self.topic, self.ttl_s = bootstrap, topic, ttl_s
        self._lock = threading.Lock()
        self._consumer: KafkaConsumer | None = None
        self._ends: dict[int, int] = {}
        self._asked = -float("inf")

    def ends(self) -> dict[int, int]:
        with self._lock:
            if time.monotonic() - self._asked >= self.ttl_s:
                self._asked = time.monotonic()
                if self._consumer is None:
                    self._consumer = KafkaConsumer(
                        bootstrap_servers=self.bootstrap,
                        group_id=None,
                        enable_auto_commit=False,
                        isolation_level=ISOLATION_LEVEL,
                    )
                partitions = _partitions(self._consumer, self.topic, wait_s=1.0)
                found = self._consumer.end_offsets(partitions) if partitions else {}
                self._ends = {tp.partition: int(end) for tp, end in found.items()}
            return dict(self._ends)

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None
