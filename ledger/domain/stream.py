"""Streams of events: folding them into aggregates, and the fact-holding aggregates.

A donation's stream and a unit's stream each hold the facts reported about
them, in recording order. ``event_id`` is the idempotency key: a fact whose
id the stream already holds with the same content is a repeat (a producer's
re-send, stored nothing twice); with different content it is a *conflict*,
refused and handed back so that it is dead-lettered, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanMutateAggregate

from ledger.domain.events import Fact, fact_class, new_fact_kwargs
from ledger.domain.facts import ReportedFact


class Recorded(StrEnum):
    """What recording a reported fact did."""

    NEW = "NEW"  # stored
    REPEAT = "REPEAT"  # the same fact was already stored under its id: nothing to do
    CONFLICT = "CONFLICT"  # its id is taken by a different fact: refused


class FactStream(BaseAggregate[UUID]):
    """Base of :class:`~ledger.domain.donation.Donation` and
    :class:`~ledger.domain.unit.BloodUnit`; each sets ``facts`` and ``by_id``
    in its ``__init__``."""

    facts: list[Fact]
    by_id: dict[str, Fact]

    def apply_fact(self, fact: Fact) -> None:
        """Called by :meth:`Fact.apply`, both when recording and on replay."""
        self.facts.append(fact)
        self.by_id.setdefault(fact.event_id, fact)

    def record(self, fact: ReportedFact) -> Recorded:
        """Record a reported fact, unless its ``event_id`` is already here."""
        first = self.by_id.get(fact.event_id)
        if first is None:
            self.trigger_event(fact_class(fact.event_type), **new_fact_kwargs(fact))
            return Recorded.NEW
        return Recorded.REPEAT if first.same_content(fact) else Recorded.CONFLICT


def fold(aggregate: Any, events: Iterable[object]) -> Any:
    """An aggregate advanced by its next events (``None``: not yet created).

    The library's ``project_aggregate`` without its per-event ``isinstance``
    check against a runtime ``Protocol`` (a third of a replay's time).
    """
    for event in events:
        assert isinstance(event, CanMutateAggregate)
        aggregate = event.mutate(aggregate)
    return aggregate
