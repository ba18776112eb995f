"""Reading only what a kept copy of a stream lacks, in every backend.

``select_stream_tails`` returns each stream's events above the version given; the
event log folds them into the copies kept (``EventLog.current``), so a kept unit
brought up to date equals the unit read whole — whatever another writer appended —
and one already current reads nothing. The ledger hands a bedside check its kept
unit and donation that way, taken out of what it keeps until they are written.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.donation import donation_id
from ledger.domain.unit import unit_id
from ledger.services.application import BloodLedger
from ledger.services.bedside import BedsideChecks, CheckRequest
from tests.builders import HOSPITAL, RBC, Timeline, at, din


@pytest.fixture
def ledger(store_url: str) -> Iterator[BloodLedger]:
    app = open_ledger(store_for(store_url))
    yield app
    app.close()


def facts_of(aggregate: object) -> list[tuple[str, int]]:
    return [(f.event_id, f.originator_version) for f in aggregate.facts]  # type: ignore[attr-defined]


def test_a_kept_copy_brought_up_to_date_equals_the_stream_read_whole(
    ledger: BloodLedger,
) -> None:
    timeline = Timeline(din=din(1))
    timeline.collected()
    timeline.produced()
    timeline.released()
    ledger.record(timeline.facts)
    ids = [unit_id(timeline.din, RBC), donation_id(timeline.din)]
    kept = ledger.event_log.aggregates(ids)
    unit = kept[ids[0]]
    version = unit.version
    ledger.record([timeline.issued(), timeline.received(), timeline.tested()])
    assert ledger.ledger_recorder.select_stream_tails(ids, [version, 10**6]) != []
    current = ledger.event_log.current(ids, dict(kept))
    whole = ledger.event_log.aggregates(ids)
    assert current[ids[0]] is unit and unit.version > version  # brought up to date in place
    for i in ids:
        assert current[i].version == whole[i].version
        assert facts_of(current[i]) == facts_of(whole[i])
    versions = [current[i].version for i in ids]
    assert ledger.ledger_recorder.select_stream_tails(ids, versions) == []  # nothing missing


def test_streams_not_kept_are_read_whole_and_unknown_ones_are_absent(ledger: BloodLedger) -> None:
    timeline = Timeline(din=din(2))
    timeline.collected()
    timeline.produced()
    ledger.record(timeline.facts)
    ids = [unit_id(timeline.din, RBC), unit_id(din(3), RBC)]
    current = ledger.event_log.current(ids, {})
    assert list(current) == [ids[0]]
    assert facts_of(current[ids[0]]) == facts_of(ledger.event_log.aggregates(ids[:1])[ids[0]])


def test_a_check_reads_its_unit_from_what_the_ledger_kept(ledger: BloodLedger) -> None:
    """The unit a check wrote is kept; the next check takes it out (no other thread can
    change it meanwhile), reads what was stored since, and keeps it again once written."""
    timeline = Timeline(din=din(4))
    timeline.transfused_cleanly()
    ledger.record(timeline.facts[:9])  # crossmatched and dispensed, not yet started
    checks = BedsideChecks(ledger, lambda: at(22.2))
    asked = CheckRequest(timeline.din, RBC, "P000001", "A", "POS", HOSPITAL, at(22.2))
    assert checks.check(asked, actor="nurse-1")["decision"] == "ALLOW"
    ids = [unit_id(timeline.din, RBC), donation_id(timeline.din)]
    assert all(i in ledger.recent for i in ids)
    found = ledger.unit_to_record(timeline.din, RBC)
    assert found is not None and all(i not in ledger.recent for i in ids)
    unit, _ = found
    assert sum(1 for f in unit.facts if f.EVENT_TYPE == "PreTransfusionCheckPerformed") == 1
    ledger.record([timeline.started(hour=22.3)])  # read again from the store, and kept
    assert all(i in ledger.recent for i in ids)
    later = checks.check(
        CheckRequest(timeline.din, RBC, "P000001", "A", "POS", HOSPITAL, at(22.4)),
        actor="nurse-1",
    )
    assert [r["code"] for r in later["reasons"]] == ["DOUBLE_USE"]
