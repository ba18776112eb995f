"""Reconciliation: every record on the topic is accounted for, or named.

Reads the events topic and its dead-letter topic from the beginning, and the
store's notification log, and puts each record in exactly one class:

- **stored** — its fact's ``event_id`` is in the store (first time seen);
- **duplicate** — a later record with an ``event_id`` already seen and stored;
- **dead-lettered** — found in the dead-letter topic by its origin
  (topic, partition, offset);
- **unaccounted** — none of these: listed, and the command exits non-zero.

It also checks that no fact is stored twice in one stream.
"""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from typing import Any

from ledger.domain.events import Fact
from ledger.domain.facts import NotAFact
from ledger.services.application import BloodLedger
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
    unaccounted: list[Unaccounted] = field(default_factory=list)
    stored_twice: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unaccounted and not self.stored_twice

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def text(self) -> str:
        lines = [
            f"records {self.records}: stored {self.stored}, duplicates {self.duplicates}, "
            f"dead-lettered {self.dead_lettered}, unaccounted {len(self.unaccounted)}",
            f"facts stored twice in one stream: {len(self.stored_twice)}",
        ]
        lines += [
            f"  UNACCOUNTED {u.topic}[{u.partition}]@{u.offset}: {u.why}" for u in self.unaccounted
        ]
        lines += [f"  STORED TWICE event {event_id}" for event_id in self.stored_twice]
        return "\n".join(lines)


def stored_fact_counts(ledger: BloodLedger) -> collections.Counter[tuple[str, str]]:
    """How often each (stream id, event id) fact is stored: the whole notification log."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    start = 1
    while page := ledger.event_log.page(start, 1000):
        for notification in page:
            event = ledger.event_log.decode(notification)
            if isinstance(event, Fact):
                counts[(str(event.originator_id), event.event_id)] += 1
        start = page[-1].id + 1
    return counts


def stored_event_ids(ledger: BloodLedger) -> tuple[set[str], list[str]]:
    """Event ids in the store, and those stored more than once in one stream."""
    per_stream = stored_fact_counts(ledger)
    twice = sorted({event_id for (_, event_id), n in per_stream.items() if n > 1})
    return {event_id for _, event_id in per_stream}, twice


def reconcile(
    ledger: BloodLedger, reader: TopicReader, topic: str, decoder: Decoder
) -> Reconciliation:
    stored, twice = stored_event_ids(ledger)
    dead = reader.dead_letter_origins(topic)
    result = Reconciliation(stored_twice=twice)
    seen: set[str] = set()
    for record in reader.records(topic):
        result.records += 1
        origin = (record.topic, record.partition, record.offset)
        try:
            event_id = decode_record(decoder, record).event_id
        except NotAFact as reason:
            if origin in dead:
                result.dead_lettered += 1
            else:
                result.unaccounted.append(
                    Unaccounted(*origin, f"not a fact ({reason.error_class}), not dead-lettered")
                )
            continue
        if event_id in stored:
            result.duplicates += event_id in seen
            result.stored += event_id not in seen
            seen.add(event_id)
        elif origin in dead:
            result.dead_lettered += 1
        else:
            result.unaccounted.append(
                Unaccounted(*origin, "a fact whose event id is not in the store")
            )
    return result
