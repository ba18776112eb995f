"""The ingest's batching, positioning, exactly-once and back-pressure logic, with doubles.

An in-memory consumer (partitions of records, group assignment, seeks and
commits), an in-memory dead-letter sink, and the ledger on the in-memory
store: no broker, no database. The real-broker tests (``tests/integration``,
``tests/faults``) check the same promises end to end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from ledger.adapters.avro import AvroCodec
from ledger.adapters.persistence.memory import MemoryStore
from ledger.domain.facts import ErrorClass, NotAFact, ReportedFact
from ledger.services.application import BatchOutcome, BloodLedger, stream_of
from ledger.services.ingest import Ingestor, IngestSettings
from ledger.services.partitions import upstream_name
from ledger.services.ports import KafkaRecord, Partition, PartitionsCallback, UndecodableBatch
from tests.builders import Timeline, din
from tests.integration.support import stored_facts

TOPIC = "events"
CODEC = AvroCodec()


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()


class Broker:
    """A topic's partitions: appended records, each with its offset."""

    def __init__(self, partitions: int = 2) -> None:
        self.logs: dict[Partition, list[Record]] = {
            Partition(TOPIC, p): [] for p in range(partitions)
        }

    def append(self, partition: int, key: bytes | None, value: bytes | None) -> Record:
        log = self.logs[Partition(TOPIC, partition)]
        record = Record(TOPIC, partition, len(log), key, value)
        log.append(record)
        return record

    def publish(self, facts: Sequence[ReportedFact]) -> None:
        """Each DIN to one partition, as a keyed producer does."""
        for fact in facts:
            self.append(
                sum(fact.din.encode()) % len(self.logs), fact.din.encode(), CODEC.encode(fact)
            )


@dataclass
class Consumer:
    """A group member that is assigned every partition on its first poll."""

    broker: Broker
    positions: dict[Partition, int] = field(default_factory=dict)
    committed: dict[Partition, int] = field(default_factory=dict)
    refuse_commits: bool = False
    closed: bool = False
    #: Partition -> the offset of a batch that cannot be decoded.
    undecodable: dict[Partition, int] = field(default_factory=dict)
    paused: set[Partition] = field(default_factory=set)
    _assigned: PartitionsCallback | None = None
    _revoked: PartitionsCallback | None = None
    _pending: list[Partition] | None = None

    def subscribe(
        self, topic: str, on_assigned: PartitionsCallback, on_revoked: PartitionsCallback
    ) -> None:
        assert topic == TOPIC
        self._assigned, self._revoked = on_assigned, on_revoked
        self._pending = list(self.broker.logs)

    def poll(self, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[KafkaRecord]]:
        if self._pending is not None:
            assigned, self._pending = self._pending, None
            for tp in assigned:
                self.positions.setdefault(tp, self.committed.get(tp, 0))
            assert self._assigned is not None
            self._assigned(assigned)
        batch: dict[Partition, Sequence[KafkaRecord]] = {}
        for tp, position in self.positions.items():
            if tp in self.paused:
                continue
            bad = self.undecodable.get(tp)
            if bad is not None and position <= bad < position + max_records:
                raise UndecodableBatch(tp, bad, "UnsupportedCodecError: lz4 codec not found")
            records = self.broker.logs[tp][
                position : position + max_records - sum(map(len, batch.values()))
            ]
            if records:
                batch[tp] = records
                self.positions[tp] = position + len(records)
        return batch

    def rebalance(self, revoked: list[Partition]) -> None:
        assert self._revoked is not None
        self._revoked(revoked)
        for tp in revoked:
            del self.positions[tp]

    def seek(self, partition: Partition, offset: int) -> None:
        self.positions[partition] = offset

    def pause(self, partition: Partition) -> None:
        self.paused.add(partition)

    def seek_to_beginning(self, partition: Partition) -> None:
        self.positions[partition] = 0

    def commit(self, offsets: Mapping[Partition, int]) -> bool:
        if self.refuse_commits:
            return False
        self.committed.update(offsets)
        return True

    def lag(self) -> int | None:
        return sum(len(self.broker.logs[tp]) - p for tp, p in self.positions.items())

    def close(self) -> None:
        self.closed = True


@dataclass
class DeadLetterTopic:
    """The dead-letter topic: what reached the broker, in order (it outlives a worker)."""

    letters: list[tuple[Record, NotAFact]] = field(default_factory=list)

    def origins(self) -> list[tuple[int, int]]:
        return [(record.partition, record.offset) for record, _ in self.letters]


@dataclass
class DeadLetters:
    """Dead letters, on the topic only once flushed; notes what happened in which order."""

    events: list[str]
    topic: DeadLetterTopic
    pending: list[tuple[Record, NotAFact]] = field(default_factory=list)

    @property
    def sent(self) -> list[tuple[Record, str]]:
        return [(record, reason.error_class) for record, reason in self.topic.letters]

    def send(self, record: KafkaRecord, reason: NotAFact) -> None:
        assert isinstance(record, Record)
        self.pending.append((record, reason))
        self.events.append("dead letter sent")

    def flush(self, stopping: Callable[[], bool]) -> dict[Partition, int]:
        positions: dict[Partition, int] = {}
        for letter in self.pending:
            self.topic.letters.append(letter)
            positions[Partition(TOPIC, letter[0].partition)] = len(self.topic.letters) - 1
        self.pending = []
        self.events.append("dead letters acknowledged")
        return positions

    def sent_since(self, origin: Partition, dlq_offset: int | None) -> set[int]:
        start = 0 if dlq_offset is None else dlq_offset + 1
        return {
            record.offset
            for record, _ in self.topic.letters[start:]
            if record.partition == origin.partition
        }

    def close(self) -> None:
        self.events.append("closed")


class Ledger(BloodLedger):
    """The ledger on the in-memory store, noting when it records, and failing on demand."""

    def __init__(self, journal: list[str]) -> None:
        super().__init__(MemoryStore("memory://").library_env())
        self.journal = journal
        self.unavailable_for = 0

    def commit(self, *args: Any, **kwargs: Any) -> BatchOutcome:
        if self.unavailable_for:
            self.unavailable_for -= 1
            raise OperationalError("server closed the connection unexpectedly")
        self.journal.append("batch recorded")
        return super().commit(*args, **kwargs)


@dataclass
class Rig:
    broker: Broker
    ledger: Ledger
    events: list[str]
    dlq: DeadLetterTopic = field(default_factory=DeadLetterTopic)

    def ingest(
        self, consumer: Consumer | None = None, **settings: object
    ) -> tuple[Ingestor, Consumer, DeadLetters]:
        consumer = consumer or Consumer(self.broker)
        dead_letters = DeadLetters(self.events, self.dlq)
        options = {"until_idle": 0.05, "retry_pause": 0.01, **settings}
        ingestor = Ingestor(
            self.ledger, consumer, dead_letters, CODEC, IngestSettings(TOPIC, **options)
        )  # type: ignore[arg-type]
        ingestor.run()
        return ingestor, consumer, dead_letters


@pytest.fixture
def rig() -> Rig:
    journal: list[str] = []
    return Rig(Broker(), Ledger(journal), journal)


def facts(count: int) -> list[ReportedFact]:
    return [
        fact for n in range(count) for fact in Timeline(din=din(n + 1)).transfused_cleanly().facts
    ]


def test_a_poll_of_several_partitions_is_one_transaction_with_a_position_each(rig: Rig) -> None:
    rig.broker.publish(facts(6))
    ingestor, consumer, _ = rig.ingest(max_records=10_000)
    assert rig.events.count("batch recorded") == 1
    for tp, log in rig.broker.logs.items():
        assert rig.ledger.position(upstream_name(TOPIC, tp.partition)) == len(log) - 1
        assert consumer.committed[tp] == len(log)
    assert ingestor.counters.stored == 72 == sum(stored_facts(rig.ledger).values())
    assert consumer.closed


def test_small_polls_make_small_batches(rig: Rig) -> None:
    rig.broker.publish(facts(3))
    ingestor, _, _ = rig.ingest(max_records=5)
    assert rig.events.count("batch recorded") >= 36 // 5
    assert ingestor.counters.stored == 36


def test_a_restart_resumes_from_the_ledgers_checkpoint_not_kafkas_offsets(rig: Rig) -> None:
    rig.broker.publish(facts(2))
    rig.ingest()
    rig.broker.publish(facts(2))  # two more donations arrive
    restarted = Consumer(rig.broker)  # the group's committed offsets were lost
    ingestor, _, _ = rig.ingest(restarted)
    assert ingestor.counters.already_recorded == len(rig.broker.logs)  # each checkpoint re-read
    assert ingestor.counters.stored == 24
    assert ingestor.counters.duplicates == 0
    assert all(count == 1 for count in stored_facts(rig.ledger).values())


def test_a_poll_delivered_twice_is_recorded_once(rig: Rig) -> None:
    rig.broker.publish(facts(2))
    ingestor, consumer, _ = rig.ingest()
    before = stored_facts(rig.ledger)
    for tp in consumer.positions:  # the broker redelivers everything (commits were lost)
        consumer.seek(tp, 0)
    batch = consumer.poll(500, 10_000)
    ingestor.ingest(batch)
    assert stored_facts(rig.ledger) == before
    assert ingestor.counters.stored == 24


def test_a_partition_whose_history_changed_is_read_again_as_a_new_generation(rig: Rig) -> None:
    stream = facts(3)
    rig.broker.publish(stream[:24])
    rig.ingest()
    replaced = Broker()  # the broker lost its storage; producers re-sent in another order
    replaced.publish(stream[24:] + stream[:24])
    rig.broker = replaced
    ingestor, _, _ = rig.ingest(Consumer(replaced))
    # Donations 1 and 3 share partition 1, whose records now come in another order;
    # partition 0 (donation 2) is as it was and simply resumes.
    assert ingestor.counters.history_changes == 1
    changed, same = upstream_name(TOPIC, 1), upstream_name(TOPIC, 0)
    assert rig.ledger.position(f"{changed}:g2") == len(replaced.logs[Partition(TOPIC, 1)]) - 1
    assert rig.ledger.position(f"{same}:g2") is None
    assert sum(stored_facts(rig.ledger).values()) == 36  # the old 24 facts are not stored twice
    assert ingestor.counters.duplicates == 12  # donation 1, read again in generation 2


def test_dead_letters_are_acknowledged_before_the_batch_is_recorded(rig: Rig) -> None:
    good = facts(1)
    rig.broker.publish(good)
    bad = rig.broker.append(0, b"S310126000001", b"\x01not avro")
    mismatched = rig.broker.append(1, b"S310126999999", CODEC.encode(good[0]))
    ingestor, _, dead_letters = rig.ingest(max_records=10_000)
    assert [(r.offset, reason) for r, reason in dead_letters.sent] == [
        (bad.offset, ErrorClass.BAD_MAGIC),
        (mismatched.offset, ErrorClass.KEY_MISMATCH),
    ]
    assert rig.events.index("dead letters acknowledged") < rig.events.index("batch recorded")
    assert ingestor.counters.dead_lettered == 2
    assert ingestor.counters.stored == 12


def test_while_the_database_is_unavailable_the_same_batch_waits_and_is_stored_once(
    rig: Rig,
) -> None:
    rig.broker.publish(facts(2))
    rig.ledger.unavailable_for = 3
    ingestor, consumer, _ = rig.ingest(max_records=10_000)
    assert rig.events.count("batch recorded") == 1
    assert ingestor.counters.stored == 24
    assert consumer.committed  # offsets only after the batch was stored


def test_records_of_a_partition_revoked_mid_poll_are_left_to_its_new_owner(rig: Rig) -> None:
    rig.broker.publish(facts(4))
    consumer = Consumer(rig.broker)
    ingestor = Ingestor(
        rig.ledger, consumer, DeadLetters(rig.events, rig.dlq), CODEC, IngestSettings(TOPIC)
    )
    consumer.subscribe(TOPIC, ingestor.resume, ingestor.revoke)
    batch = consumer.poll(500, 10_000)
    gone = Partition(TOPIC, 1)
    consumer.rebalance([gone])
    ingestor.ingest(batch)
    assert gone not in consumer.committed
    assert rig.ledger.position(upstream_name(TOPIC, 1)) is None
    assert ingestor.counters.stored == len(rig.broker.logs[Partition(TOPIC, 0)])


def test_a_refused_offset_commit_does_not_stop_the_ingest(rig: Rig) -> None:
    rig.broker.publish(facts(2))
    consumer = Consumer(rig.broker, refuse_commits=True)
    ingestor, _, _ = rig.ingest(consumer)
    assert ingestor.counters.stored == 24
    assert consumer.committed == {}


def test_stop_ends_the_loop_after_the_current_batch(rig: Rig) -> None:
    rig.broker.publish(facts(5))
    consumer = Consumer(rig.broker)
    ingestor = Ingestor(
        rig.ledger,
        consumer,
        DeadLetters(rig.events, rig.dlq),
        CODEC,
        IngestSettings(TOPIC, max_records=7),
    )
    ingestor.after_batch = ingestor.stop
    counters = ingestor.run()
    assert rig.events.count("batch recorded") == 1
    assert counters.stored == 7
    assert consumer.closed


def _changed(fact: ReportedFact, **payload: object) -> ReportedFact:
    return replace(fact, payload={**fact.payload, **payload})


def test_the_same_event_id_with_other_content_is_dead_lettered_as_a_conflict(rig: Rig) -> None:
    story = facts(1)
    receipt = next(f for f in story if f.event_type == "UnitReceived")
    rig.broker.publish(story)
    rig.broker.publish([receipt, _changed(receipt, temperature_ok=False)])  # a repeat, a conflict
    ingestor, _, dead_letters = rig.ingest(max_records=10_000)
    assert [reason for _, reason in dead_letters.sent] == [ErrorClass.EVENT_ID_CONFLICT]
    [(_record, conflict)] = rig.dlq.letters
    assert conflict.details["stream"] == str(stream_of(receipt))
    assert conflict.details["din"] == receipt.din
    counters = ingestor.counters
    assert (counters.stored, counters.duplicates, counters.conflicts) == (12, 1, 1)
    [unit] = rig.ledger.units_of(receipt.din, receipt.product_code)
    assert next(f for f in unit.facts if f.event_id == receipt.event_id).temperature_ok is True


def test_an_event_id_reused_on_another_din_is_a_conflict_in_the_batch_or_later(rig: Rig) -> None:
    first, second = facts(1), facts(2)[12:]
    reused = replace(second[3], event_id=first[3].event_id)  # another donation, a taken id
    rig.broker.publish([*first, reused])  # in one poll with the fact it collides with
    ingestor, _, _ = rig.ingest(max_records=10_000)
    assert ingestor.counters.conflicts == 1
    rig.broker.publish([replace(second[4], event_id=first[4].event_id)])  # after, from the store
    later, _, _ = rig.ingest()
    assert later.counters.conflicts == 1
    assert [reason.error_class for _, reason in rig.dlq.letters] == [
        ErrorClass.EVENT_ID_CONFLICT,
        ErrorClass.EVENT_ID_CONFLICT,
    ]
    assert sum(stored_facts(rig.ledger).values()) == 12


class Crash(BaseException):
    """The process dies (nothing after it runs)."""


def test_a_crash_between_the_dead_letters_and_the_batch_sends_no_letter_twice(rig: Rig) -> None:
    rig.broker.publish(facts(2))
    poison = [rig.broker.append(p, b"S310126000001", b"\x01not avro") for p in (0, 1, 1)]
    original = rig.ledger.commit

    def crash(*args: Any, **kwargs: Any) -> BatchOutcome:
        raise Crash

    rig.ledger.commit = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        rig.ingest(max_records=10_000)
    assert len(rig.dlq.letters) == 3  # acknowledged, but the batch was never recorded
    rig.ledger.commit = original  # type: ignore[method-assign]
    ingestor, _, _ = rig.ingest(Consumer(rig.broker), max_records=10_000)
    assert sorted(rig.dlq.origins()) == sorted((r.partition, r.offset) for r in poison)
    assert ingestor.counters.dead_lettered == 3
    assert ingestor.counters.stored == 24
    restarted, _, _ = rig.ingest(Consumer(rig.broker))  # and once more: nothing new
    assert len(rig.dlq.letters) == 3
    assert restarted.counters.dead_lettered == 0


def test_a_batch_that_cannot_be_decoded_holds_its_partition_and_only_it(rig: Rig) -> None:
    rig.broker.publish(facts(4))
    held = Partition(TOPIC, 1)
    bad_at = len(rig.broker.logs[held]) // 2
    consumer = Consumer(rig.broker, undecodable={held: bad_at})
    ingestor, _, _ = rig.ingest(consumer, max_records=3)
    assert list(ingestor.held) == [held]
    assert ingestor.held[held].offset == bad_at
    assert "events[1]@" in str(ingestor.held[held])
    assert (
        rig.ledger.position(upstream_name(TOPIC, 0))
        == len(rig.broker.logs[Partition(TOPIC, 0)]) - 1
    )
    assert (rig.ledger.position(upstream_name(TOPIC, 1)) or -1) < bad_at  # nothing past it
    again, _, _ = rig.ingest(Consumer(rig.broker, undecodable={held: bad_at}), max_records=3)
    assert list(again.held) == [held]  # a restart stops there again, and loses nothing
    fixed, _, _ = rig.ingest(Consumer(rig.broker))  # the operator fixed it
    assert fixed.held == {}
    assert sum(stored_facts(rig.ledger).values()) == 48


@dataclass
class SlowJoin(Consumer):
    """A group member whose join takes longer than the ingest's ``until_idle``, and whose
    joining poll brings the assignment and no records (as a real consumer's may)."""

    join_s: float = 0.3

    def poll(self, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[KafkaRecord]]:
        if self._pending is not None:
            time.sleep(self.join_s)
            assigned, self._pending = self._pending, None
            for tp in assigned:
                self.positions.setdefault(tp, self.committed.get(tp, 0))
            assert self._assigned is not None
            self._assigned(assigned)
            return {}
        return super().poll(timeout_ms, max_records)


def test_a_group_join_slower_than_until_idle_is_not_idleness(rig: Rig) -> None:
    """``--until-idle`` counts from the assignment at the earliest: a slow join (a loaded
    broker) is not "caught up", and the records are read."""
    rig.broker.publish(facts(1))
    ingestor, _, _ = rig.ingest(SlowJoin(rig.broker), until_idle=0.1)
    assert ingestor.counters.stored == 12


@dataclass
class SlowRejoin(Consumer):
    """A group member that, after its first batch, loses every partition to a rebalance
    (as after a database outage longer than the poll interval) and is given them back
    only after longer than the ingest's ``until_idle``; meanwhile its polls are empty."""

    away_s: float = 0.3
    polls: int = 0
    _back_at: float | None = None

    def poll(self, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[KafkaRecord]]:
        self.polls += 1
        if self.polls == 2:  # after the first batch: the rebalance takes everything
            self._back_at = time.monotonic() + self.away_s
            self.rebalance(list(self.positions))
            return {}
        if self._back_at is not None:
            if time.monotonic() < self._back_at:
                return {}
            self._back_at, self._pending = None, list(self.broker.logs)
        return super().poll(timeout_ms, max_records)


def test_a_rejoin_slower_than_until_idle_is_not_idleness(rig: Rig) -> None:
    """While a rebalance has taken every partition away the worker is not caught up, however
    long the rejoin takes: ``--until-idle`` counts again from the new assignment, and every
    record is read (this ended an ingest with most of a topic unread, under load)."""
    rig.broker.publish(facts(3))
    consumer = SlowRejoin(rig.broker)
    ingestor, _, _ = rig.ingest(consumer, until_idle=0.1, max_records=12)
    assert consumer.polls > 3
    assert ingestor.counters.stored == 36
