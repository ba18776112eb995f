"""Streams of events: folding them into aggregates, and the fact-holding aggregates.

A donation's stream and a unit's stream each hold the facts reported about
them, in recording order. Recording a fact whose ``event_id`` the stream
already holds is a no-op, so a producer's re-send stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanMutateAggregate

from ledger.domain.events import Fact, fact_class, new_fact_kwargs
from ledger.domain.facts import ReportedFact


class FactStream(BaseAggregate[UUID]):
    """Base of :class:`~ledger.domain.donation.Donation` and
    :class:`~ledger.domain.unit.BloodUnit`; each sets ``facts`` and ``event_ids``
    in its ``__init__``."""

    facts: list[Fact]
    event_ids: set[str]

    def apply_fact(self, fact: Fact) -> None:
        """Called by :meth:`Fact.apply`, both when recording and on replay."""
        self.facts.append(fact)
        self.event_ids.add(fact.event_id)

    def record(self, fact: ReportedFact) -> bool:
        """Record a reported fact; False if its ``event_id`` is already here."""
        if fact.event_id in self.event_ids:
            return False
        self.trigger_event(fact_class(fact.event_type), **new_fact_kwargs(fact))
        return True


def fold(aggregate: Any, events: Iterable[object]) -> Any:
    """An aggregate advanced by its next events (``None``: not yet created).

    The library's ``project_aggregate`` without its per-event ``isinstance``
    check against a runtime ``Protocol`` (a third of a replay's time).
    """
    for event in events:
        assert isinstance(event, CanMutateAggregate)
        aggregate = event.mutate(aggregate)
    return aggregate
