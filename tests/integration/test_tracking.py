"""Upstream positions are recorded with the facts, atomically, on every store."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.donation import donation_id
from ledger.domain.unit import unit_id
from ledger.services.application import BloodLedger
from tests.builders import RBC, Timeline, din
from tests.integration.support import stored_facts


def test_positions_of_several_partitions_are_recorded_with_the_facts(ledger: BloodLedger) -> None:
    facts = Timeline(din=din(1)).transfused_cleanly().facts
    ledger.record(facts, [Tracking("kafka:t:0", 41), Tracking("kafka:t:1", 7)])
    assert (ledger.position("kafka:t:0"), ledger.position("kafka:t:1")) == (41, 7)
    assert ledger.position("kafka:t:2") is None


def test_a_replayed_position_writes_nothing_at_all(ledger: BloodLedger) -> None:
    ledger.record(Timeline(din=din(1)).transfused_cleanly().facts, [Tracking("kafka:t:0", 10)])
    before = stored_facts(ledger)
    replay = Timeline(din=din(2)).transfused_cleanly().facts
    with pytest.raises(IntegrityError):
        ledger.record(replay, [Tracking("kafka:t:1", 5), Tracking("kafka:t:0", 10)])
    assert stored_facts(ledger) == before
    assert ledger.position("kafka:t:1") is None
    assert ledger.units_of(din(2)) == []


def test_an_aggregate_kept_in_memory_that_another_writer_changed_is_read_again(
    durable_store_url: str,
) -> None:
    timeline = Timeline(din=din(3))
    timeline.produced(hour=2)
    first = open_ledger(store_for(durable_store_url))
    other = open_ledger(store_for(durable_store_url))
    try:
        first.record(timeline.facts)  # the unit is now kept in ``first``'s memory
        other.record([Timeline(din=din(3)).quarantined(hour=3)])  # e.g. a lookback elsewhere
        later = Timeline(din=din(3))
        later.released(hour=6)
        with pytest.raises(IntegrityError):
            first.record(later.facts)  # stale in memory: the store refuses the write
        first.record(later.facts)  # read afresh, recorded
        [unit] = first.units_of(din(3), RBC)
        assert [f.EVENT_TYPE for f in unit.facts] == [
            "ComponentProduced",
            "UnitQuarantined",
            "UnitReleased",
        ]
    finally:
        first.close()
        other.close()


def test_aggregates_are_read_as_they_stood_at_a_notification(ledger: BloodLedger) -> None:
    """What the projector reads for an aggregate it does not keep (every store)."""
    first = Timeline(din=din(4))
    first.collected()
    first.produced(hour=2)
    ledger.record(first.facts)
    position = ledger.event_log.head()
    later = Timeline(din=din(4))
    later.released(hour=6)
    ledger.record(later.facts)
    unit = unit_id(din(4), RBC)
    ids = [donation_id(din(4)), unit]
    then, now = ledger.event_log.aggregates(ids, position), ledger.event_log.aggregates(ids)
    assert [f.EVENT_TYPE for f in then[unit].facts] == ["ComponentProduced"]
    assert [f.EVENT_TYPE for f in now[unit].facts] == ["ComponentProduced", "UnitReleased"]
    assert then[ids[0]].version == now[ids[0]].version
    assert ledger.event_log.aggregates(ids, 0) == {}
