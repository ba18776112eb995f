"""The dead-letter topic: messages that are not facts, kept untouched with their reason.

A dead letter counts as handled only once the broker has acknowledged it:
:meth:`KafkaDeadLetters.flush` waits for every pending send and re-sends any
the producer gave up on, so the batch's position is never recorded ahead of
its dead letters. Reasons name the rule broken, never a field's value (no PII).
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
    ERROR_CLASS,
    ERROR_MESSAGE,
    ORIGIN_OFFSET,
    ORIGIN_PARTITION,
    ORIGIN_TOPIC,
    dlq_topic,
)
from ledger.domain.facts import NotAFact
from ledger.services.ports import KafkaRecord

log = logging.getLogger("bloodledger.deadletter")


def headers(record: KafkaRecord, reason: NotAFact) -> list[tuple[str, bytes]]:
    return [
        (ERROR_CLASS, reason.error_class.encode()),
        (ERROR_MESSAGE, reason.message.encode()),
        (ORIGIN_TOPIC, record.topic.encode()),
        (ORIGIN_PARTITION, str(record.partition).encode()),
        (ORIGIN_OFFSET, str(record.offset).encode()),
    ]


@dataclass
class _Pending:
    record: KafkaRecord
    reason: NotAFact
    future: FutureRecordMetadata


class KafkaDeadLetters:
    """The ingest's :class:`~ledger.services.ports.DeadLetterSink`: sends dead
    letters and waits until the broker has them all."""

    def __init__(self, producer: KafkaProducer) -> None:
        self.producer = producer
        self.pending: list[_Pending] = []

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

    def flush(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """Return once every pending dead letter is acknowledged (re-sending failures)."""
        pause = 0.5
        while self.pending:
            try:
                self.producer.flush(timeout=30)
            except KafkaError as error:
                log.warning("dead-letter topic unavailable (%s)", type(error).__name__)
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
