"""The dead-letter topic: messages that are not facts, kept untouched with their reason.

A dead letter counts as handled only once the broker has acknowledged it:
:meth:`DeadLetters.flush` waits for every pending send and re-sends any the
producer gave up on, so the batch's position is never recorded ahead of its
dead letters. Reasons name the rule broken, never a field's value (no PII).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata

from ledger.adapters.avro import NotAFact
from ledger.adapters.kafka import dlq_topic

log = logging.getLogger("bloodledger.deadletter")

ERROR_CLASS = "bloodledger.error.class"
ERROR_MESSAGE = "bloodledger.error.message"
ORIGIN_TOPIC = "bloodledger.origin.topic"
ORIGIN_PARTITION = "bloodledger.origin.partition"
ORIGIN_OFFSET = "bloodledger.origin.offset"


def headers(record: ConsumerRecord, reason: NotAFact) -> list[tuple[str, bytes]]:
    return [
        (ERROR_CLASS, reason.error_class.encode()),
        (ERROR_MESSAGE, reason.message.encode()),
        (ORIGIN_TOPIC, record.topic.encode()),
        (ORIGIN_PARTITION, str(record.partition).encode()),
        (ORIGIN_OFFSET, str(record.offset).encode()),
    ]


@dataclass
class _Pending:
    record: ConsumerRecord
    reason: NotAFact
    future: FutureRecordMetadata


class DeadLetters:
    """Sends dead letters and waits until the broker has them all."""

    def __init__(self, producer: KafkaProducer) -> None:
        self.producer = producer
        self.pending: list[_Pending] = []

    def send(self, record: ConsumerRecord, reason: NotAFact) -> None:
        self.pending.append(_Pending(record, reason, self._send(record, reason)))

    def _send(self, record: ConsumerRecord, reason: NotAFact) -> FutureRecordMetadata:
        future: FutureRecordMetadata = self.producer.send(
            dlq_topic(record.topic),
            key=record.key,
            value=record.value,
            headers=headers(record, reason),
        )
        return future

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
