"""Upstream positions are recorded with the facts, atomically, on every store."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from ledger.application import BloodLedger
from tests.builders import Timeline, din
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
