"""The dead-letter topic: records the ledger does not store, kept untouched with why.

A dead letter counts as handled only once the broker has acknowledged it:
:meth:`KafkaDeadLetters.flush` waits for every pending send and re-sends any
the producer gave up on, so the batch's position is never recorded ahead of
its dead letters. It returns where each origin partition's letters ended in
the dead-letter topic, which the ingest records with the batch; after a crash
:meth:`KafkaDeadLetters.sent_since` reads the topic from there on, so a record
re-read is not dead-lettered twice. Reasons name the rule broken, never a
field's value (no PII). The dead-letter topic has one partition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata

from ledger.adapters.kafka import (
    DETAIL_PREFIX,
    ERROR_CLASS,
    ERROR_MESSAGE,
    ORIGIN_OFFSET,
    ORIGIN_PARTITION,
    ORIGIN_TOPIC,
    TopicReader,
    dlq_topic,
    origin_of,
)
from ledger.domain.facts import NotAFact
from ledger.services.ports import KafkaRecord, Partition

log = logging.getLogger("bloodledger.deadletter")


def headers(record: KafkaRecord, reason: NotAFact) -> list[tuple[str, bytes]]:
    return [
        (ERROR_CLASS, reason.error_class.encode()),
        (ERROR_MESSAGE, reason.message.encode()),
        (ORIGIN_TOPIC, record.topic.encode()),
        (ORIGIN_PARTITION, str(record.partition).encode()),
        (ORIGIN_OFFSET, str(record.offset).encode()),
        *((f"{DETAIL_PREFIX}{key}", value.encode()) for key, value in reason.details.items()),
    ]


@dataclass
class _Pending:
    record: KafkaRecord
    reason: NotAFact
    future: FutureRecordMetadata


class KafkaDeadLetters:
    """The ingest's :class:`~ledger.services.ports.DeadLetterSink`: sends dead
    letters and waits until the broker has them all."""

    def __init__(self, producer: KafkaProducer, reader: TopicReader) -> None:
        self.producer = producer
        self.reader = reader
        self.pending: list[_Pending] = []
        self._acknowledged: dict[Partition, int] = {}

    def send(self, record: KafkaRecord, reason: NotAFact) -> None:
        self.pending.append(_Pending(record, reason, self._send(record, reason)))

    def _send(self, record: KafkaRecord, reason: NotAFact) -> FutureRecordMetadata:
        future: FutureRecordMetadata = self.producer.send(
            dlq_topic(record.topic),
            key=record.key,
            value=record.value,
            headers=headers(record, reason),
        )
        return future

    def close(self) -> None:
        self.producer.close(timeout=10)

    def sent_since(self, origin: Partition, dlq_offset: int | None) -> set[int]:
        """Offsets of ``origin``'s records in the dead-letter topic after ``dlq_offset``."""
        start = 0 if dlq_offset is None else dlq_offset + 1
        found: set[int] = set()
        for letter in self.reader.records_from(dlq_topic(origin.topic), 0, start):
            where = origin_of(letter)
            if where is not None and where[:2] == tuple(origin):
                found.add(where[2])
        return found

    def flush(self, stopping: Callable[[], bool] = lambda: False) -> dict[Partition, int]:
        """Return once every pending dead letter is acknowledged (re-sending failures):
        the dead-letter offset of each origin partition's last letter since the last call."""
        self._wait(stopping)
        acknowledged, self._acknowledged = self._acknowledged, {}
        return acknowledged

    def _wait(self, stopping: Callable[[], bool]) -> None:
        pause = 0.5
        while self.pending:
            try:
                self.producer.flush(timeout=30)
            except KafkaError as error:
                log.warning("dead-letter topic unavailable (%s)", type(error).__name__)
            for done in self.pending:
                if done.future.is_done and not done.future.failed():
                    origin = Partition(done.record.topic, done.record.partition)
                    offset = done.future.value.offset
                    self._acknowledged[origin] = max(offset, self._acknowledged.get(origin, -1))
            failed = [p for p in self.pending if p.future.is_done and p.future.failed()]
            self.pending = [p for p in self.pending if not p.future.is_done or p.future.failed()]
            if not self.pending:
                return
            if stopping():
                msg = "stopped before the dead letters were acknowledged"
                raise RuntimeError(msg)
            log.warning(
                "%d dead letters not yet acknowledged; waiting %.1f s", len(self.pending), pause
            )
            time.sleep(pause)
            pause = min(pause * 2, 30.0)
            resent = {id(p) for p in failed}
            self.pending = [
                _Pending(p.record, p.reason, self._send(p.record, p.reason))
                if id(p) in resent
                else p
                for p in self.pending
            ]
