"""Reconciliation: every record on the topic is accounted for, or named.

Reads the events topic and its dead-letter topic from the beginning, and the
store's notification log, and puts each record in exactly one class:

- **stored** — its fact is in the store: the same content under its
  ``event_id``, in the stream it belongs in (first time seen);
- **duplicate** — a later record of a fact already seen and stored;
- **dead-lettered** — found in the dead-letter topic by its origin
  (topic, partition, offset);
- **conflict** — its event id is stored for a different fact, and it is in the
  dead-letter topic as an ``EVENT_ID_CONFLICT``;
- **unaccounted** — none of these: listed, and the command exits non-zero.

It also checks that no fact is stored twice in one stream and that no event id
is stored in two streams (the id is unique across the whole ledger). A decoded
record's identifiers are sealed as the ledger seals what it records, so a
protected ledger's facts compare with the topic's as they were recorded.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ledger.domain.events import Fact
from ledger.domain.facts import ErrorClass, NotAFact
from ledger.services.application import BloodLedger, stream_of
from ledger.services.ingest import decode_record
from ledger.services.ports import Decoder, TopicReader


@dataclass(frozen=True)
class Unaccounted:
    topic: str
    partition: int
    offset: int
    why: str


@dataclass
class Reconciliation:
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    conflicts: int = 0
    unaccounted: list[Unaccounted] = field(default_factory=list)
    stored_twice: list[str] = field(default_factory=list)
    in_several_streams: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unaccounted or self.stored_twice or self.in_several_streams)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def text(self) -> str:
        lines = [
            f"records {self.records}: stored {self.stored}, duplicates {self.duplicates}, "
            f"dead-lettered {self.dead_lettered}, event-id conflicts {self.conflicts}, "
            f"unaccounted {len(self.unaccounted)}",
            f"facts stored twice in one stream: {len(self.stored_twice)}; "
            f"event ids stored in several streams: {len(self.in_several_streams)}",
        ]
        lines += [
            f"  UNACCOUNTED {u.topic}[{u.partition}]@{u.offset}: {u.why}" for u in self.unaccounted
        ]
        lines += [f"  STORED TWICE event {event_id}" for event_id in self.stored_twice]
        lines += [f"  IN SEVERAL STREAMS event {event_id}" for event_id in self.in_several_streams]
        return "\n".join(lines)


def stored_facts(ledger: BloodLedger) -> Iterator[Fact]:
    """Every fact in the store's notification log, in notification order."""
    start = 1
    while page := ledger.event_log.page(start, 1000):
        for notification in page:
            event = ledger.event_log.decode(notification)
            if isinstance(event, Fact):
                yield event
        start = page[-1].id + 1


def stored_fact_counts(ledger: BloodLedger) -> collections.Counter[tuple[str, str]]:
    """How often each (stream id, event id) fact is stored: the whole notification log."""
    return collections.Counter(
        (str(fact.originator_id), fact.event_id) for fact in stored_facts(ledger)
    )


def reconcile(
    ledger: BloodLedger, reader: TopicReader, topic: str, decoder: Decoder
) -> Reconciliation:
    """Put every record of ``topic`` in exactly one class, as the ingest decided it.

    The identity is the ingest's: a fact is the one stored under its event id in
    its own stream with the same content (stored, the first time; a duplicate
    after); an id stored for a different fact (other content, or another stream)
    makes the record a conflict, which must be in the dead-letter topic as one.
    """
    by_id: dict[str, list[Fact]] = collections.defaultdict(list)
    for stored_fact in stored_facts(ledger):
        by_id[stored_fact.event_id].append(stored_fact)
    streams = {event_id: {f.originator_id for f in facts} for event_id, facts in by_id.items()}
    result = Reconciliation(
        stored_twice=sorted(i for i, facts in by_id.items() if len(facts) > len(streams[i])),
        in_several_streams=sorted(i for i, found in streams.items() if len(found) > 1),
    )
    dead = reader.dead_letter_origins(topic)
    seen: set[str] = set()
    for record in reader.records(topic):
        result.records += 1
        origin = (record.topic, record.partition, record.offset)
        try:
            fact = ledger.identities.sealed_fact(decode_record(decoder, record))  # as stored
        except NotAFact as reason:
            if origin in dead:
                result.dead_lettered += 1
            else:
                result.unaccounted.append(
                    Unaccounted(*origin, f"not a fact ({reason.error_class}), not dead-lettered")
                )
            continue
        stored = by_id.get(fact.event_id, [])
        stream = stream_of(fact)
        if any(f.originator_id == stream and f.same_content(fact) for f in stored):
            result.duplicates += fact.event_id in seen
            result.stored += fact.event_id not in seen
            seen.add(fact.event_id)
        elif stored and dead.get(origin) == ErrorClass.EVENT_ID_CONFLICT:
            result.conflicts += 1
        elif stored:
            why = "its event id is stored for a different fact, and it was not dead-lettered"
            result.unaccounted.append(Unaccounted(*origin, why))
        elif origin in dead:
            result.dead_lettered += 1
        else:
            result.unaccounted.append(
                Unaccounted(*origin, "a fact whose event id is not in the store")
            )
    return result
