"""What the ingest knows about each Kafka partition, and how it checks the broker's history.

The ledger, not Kafka, says where a partition was read to: a
:class:`~ledger.services.ports.Checkpoint` (offset and fingerprint of
the last record stored) is written with every batch. On assignment the
consumer is positioned *on* that record, and the first record it then
receives must be that very record. If it is not — the broker lost its
storage, or the topic was recreated — or if offsets ever go backwards, the
partition's history has changed: the ingest logs it and reads the partition
again from its beginning under a new *generation* (a new tracking name),
relying on event ids to store nothing twice. Offsets alone are never trusted
to mean "already processed".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.services.ports import Checkpoint, KafkaRecord


def upstream_name(topic: str, partition: int) -> str:
    """The tracking name of a Kafka partition in the ledger's store."""
    return f"kafka:{topic}:{partition}"


def ingest_lag(topic: str, ends: Mapping[int, int], position: Callable[[str], int | None]) -> int:
    """Records on ``topic`` not yet stored: per partition, its end offset minus the
    offset after the last one the ledger recorded (``position``: the ledger's upstream
    positions), summed."""
    lag = 0
    for partition, end in ends.items():
        recorded = position(upstream_name(topic, partition))
        lag += max(0, end - (recorded + 1 if recorded is not None else 0))
    return lag


def fingerprint(record: KafkaRecord) -> str:
    """A short digest of a record's key and value: what was at an offset."""
    digest = hashlib.sha256()
    digest.update(record.key or b"")
    digest.update(b"\0")
    digest.update(record.value or b"")
    return digest.hexdigest()[:32]


@dataclass
class Screened:
    """A partition's records of one poll, sorted out."""

    fresh: Sequence[KafkaRecord] = field(default_factory=list)
    already_recorded: int = 0
    history_changed: str | None = None


@dataclass
class PartitionState:
    """One assigned partition: its generation, what is recorded, what must be verified."""

    topic: str
    partition: int
    generation: int = 1
    recorded: int | None = None
    verify: tuple[int, str] | None = None
    #: Offsets of this partition's records already in the dead-letter topic but not yet
    #: recorded as read (a crash came between the two): not to be dead-lettered again.
    dead_lettered: set[int] = field(default_factory=set)
    #: The dead-letter position of this partition's last letter, not yet recorded.
    dead_letters_at: int | None = None

    @property
    def key(self) -> str:
        return upstream_name(self.topic, self.partition)

    @property
    def dead_letters_upstream(self) -> str:
        """The tracking name of where this partition's dead letters end in the DLQ."""
        return f"{self.key}:dlq"

    @property
    def upstream(self) -> str:
        """The tracking name: generation 1 keeps the plain partition name."""
        return self.key if self.generation == 1 else f"{self.key}:g{self.generation}"

    @classmethod
    def resume(cls, topic: str, partition: int, checkpoint: Checkpoint | None) -> PartitionState:
        state = cls(topic, partition)
        if checkpoint is not None:
            state.generation = checkpoint.generation
            state.recorded = checkpoint.offset
            state.verify = (checkpoint.offset, checkpoint.fingerprint)
        return state

    def screen(self, records: Sequence[KafkaRecord]) -> Screened:
        """Separate records already recorded from fresh ones; detect a changed history."""
        if self.verify is not None:
            offset, expected = self.verify
            first = records[0]
            if first.offset != offset:
                return Screened(
                    history_changed=f"expected to re-read offset {offset}, got {first.offset}"
                )
            if fingerprint(first) != expected:
                return Screened(
                    history_changed=f"the record at offset {offset} is not the one stored"
                )
            self.verify = None
            return Screened(fresh=records[1:], already_recorded=1)
        if self.recorded is not None and records[0].offset <= self.recorded:
            return Screened(
                history_changed=f"offset {records[0].offset} after {self.recorded} was recorded"
            )
        return Screened(fresh=records)

    def checkpoint(self, last: KafkaRecord) -> Checkpoint:
        return Checkpoint(self.key, self.generation, last.offset, fingerprint(last))

    def dead_letters_recorded(self) -> None:
        self.dead_letters_at = None

    def start_new_generation(self) -> None:
        self.generation += 1
        self.recorded = None
        self.verify = None
        self.dead_lettered = set()
