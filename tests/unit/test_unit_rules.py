"""The unit's state machine and safety flags, told as stories of reported facts.

Each test tells one story with :class:`tests.builders.Timeline`, records it
through the domain's aggregates (:class:`tests.domain_ledger.DomainLedger`:
no store, no I/O) and reads the unit back by replaying its events, so the
rules are checked on replayed state. The same stories on every store are in
``tests/integration/test_backend_parity.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ledger.domain.facts import ReportedFact
from ledger.domain.unit import LEDGER_ACTOR
from ledger.domain.unit_state import UnitState
from ledger.domain.vocabulary import DONATION_LEVEL
from tests.builders import HOSPITAL, PLASMA, RBC, Timeline, at
from tests.domain_ledger import DomainLedger


@pytest.fixture
def ledger() -> DomainLedger:
    return DomainLedger()


def record(ledger: DomainLedger, facts: Sequence[ReportedFact]) -> None:
    ledger.record(list(facts))


def state(
    ledger: DomainLedger, timeline: Timeline, product_code: str = RBC, hour: float | None = None
) -> UnitState:
    units = ledger.units_of(timeline.din, product_code)
    assert len(units) == 1
    return units[0].state(None if hour is None else at(hour))


def flags(ledger: DomainLedger, timeline: Timeline, product_code: str = RBC) -> set[str]:
    record(ledger, timeline.facts)
    return set(state(ledger, timeline, product_code).flags)


def test_a_clean_vein_to_vein_path_ends_transfused_without_flags(ledger: DomainLedger) -> None:
    timeline = Timeline().transfused_cleanly()
    record(ledger, timeline.facts)
    final = state(ledger, timeline)
    assert final.status == "TRANSFUSED"
    assert final.flags == ()
    assert (final.facility, final.abo, final.rhd, final.component) == (
        HOSPITAL,
        "A",
        "POS",
        "RED_CELLS",
    )
    assert final.holder_patient_id == "P000001"
    assert final.expires_at == at(2 + 24 * 35)


@pytest.mark.parametrize(
    ("hour", "status", "facility"),
    [
        (1, "NOT_PRODUCED", None),
        (3, "PRODUCED", "S3101"),
        (7, "AVAILABLE", "S3101"),
        (9, "IN_TRANSIT", "S3101"),
        (11, "AVAILABLE", HOSPITAL),
        (22.5, "DISPENSED", HOSPITAL),
        (24, "IN_TRANSFUSION", HOSPITAL),
    ],
)
def test_as_of_replays_only_facts_that_had_occurred(
    ledger: DomainLedger, hour: float, status: str, facility: str | None
) -> None:
    timeline = Timeline().transfused_cleanly()
    record(ledger, timeline.facts)
    past = state(ledger, timeline, hour=hour)
    assert (past.status, past.facility) == (status, facility)


def test_donation_facts_are_stored_once_yet_every_unit_folds_them(ledger: DomainLedger) -> None:
    timeline = Timeline()
    collected = timeline.collected()
    timeline.produced(product_code=RBC)
    result = timeline.tested(hour=4, test="HIV_NAT", result="NONREACTIVE")
    record(ledger, timeline.facts)
    later = Timeline(din=timeline.din)
    later.produced(hour=5, product_code=PLASMA, component="PLASMA")
    record(ledger, later.facts)

    for code in (RBC, PLASMA):
        [unit] = ledger.units_of(timeline.din, code)
        assert {collected.event_id, result.event_id} <= {f.event_id for f in unit.facts}
        assert not any(f.EVENT_TYPE in DONATION_LEVEL for f in unit.unit.facts), code
    donation = ledger.donation(timeline.din)
    assert donation is not None
    assert [f.event_id for f in donation.facts] == [collected.event_id, result.event_id]


def test_reactive_marker_quarantines_every_component_including_later_ones(
    ledger: DomainLedger,
) -> None:
    timeline = Timeline()
    timeline.collected()
    timeline.produced(product_code=RBC)
    result = timeline.tested(hour=4, test="HBV_NAT", result="REACTIVE")
    record(ledger, timeline.facts)
    later = Timeline(din=timeline.din)
    later.produced(hour=5, product_code=PLASMA, component="PLASMA")
    later.released(hour=6, product_code=PLASMA)
    record(ledger, later.facts)

    for code in (RBC, PLASMA):
        unit = ledger.units_of(timeline.din, code)[0]
        current = unit.state()
        assert current.status == "QUARANTINED", code
        assert "REACTIVE_DONATION" in current.flags
        quarantines = [f for f in unit.facts if f.EVENT_TYPE == "UnitQuarantined"]
        assert len(quarantines) == 1
        assert (quarantines[0].source_system, quarantines[0].actor) == (LEDGER_ACTOR, LEDGER_ACTOR)
        assert quarantines[0].occurred_at == result.occurred_at
        assert [f.event_id for f in unit.facts if f.EVENT_TYPE == "TestResultRecorded"] == [
            result.event_id
        ]


def test_reactive_result_resent_does_not_quarantine_twice(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.tested(test="HIV_NAT", result="REACTIVE")
    record(ledger, timeline.facts)
    record(ledger, timeline.facts)
    unit = ledger.units_of(timeline.din, RBC)[0]
    assert [f.EVENT_TYPE for f in unit.facts].count("UnitQuarantined") == 1


@pytest.mark.parametrize(
    ("test", "counts"), [("ALT", False), ("ABO_RHD", False), ("SYPHILIS", True)]
)
def test_only_infectious_markers_make_a_donation_reactive(
    ledger: DomainLedger, test: str, counts: bool
) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.tested(test=test, result="REACTIVE")
    assert ("REACTIVE_DONATION" in flags(ledger, timeline)) is counts


def test_release_does_not_lift_a_reactive_quarantine(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.tested(hour=4, result="REACTIVE")
    timeline.released(hour=6)
    timeline.issued(hour=8)
    assert {"REACTIVE_DONATION", "UNRELEASED_USE"} <= flags(ledger, timeline)


def test_release_lifts_an_ordinary_quarantine(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.quarantined(hour=3)
    timeline.released(hour=6)
    record(ledger, timeline.facts)
    assert state(ledger, timeline).status == "AVAILABLE"


def test_issue_before_release_is_unreleased_use(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.issued(hour=5)
    timeline.released(hour=6)
    assert flags(ledger, timeline) == {"UNRELEASED_USE"}


def test_transfusion_while_quarantined_is_unreleased_use(ledger: DomainLedger) -> None:
    timeline = Timeline().transfused_cleanly()
    timeline.quarantined(hour=21)
    assert "UNRELEASED_USE" in flags(ledger, timeline)


def test_transfusion_after_expiry_is_expired_use(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced(shelf_days=0.5)  # expires at hour 14
    timeline.released()
    timeline.crossmatched()
    timeline.started(hour=23)
    assert flags(ledger, timeline) == {"EXPIRED_USE"}


@pytest.mark.parametrize(
    ("component", "donor", "patient", "flag"),
    [
        ("RED_CELLS", "A", "O", "ABO_INCOMPATIBLE"),
        ("RED_CELLS", "O", "AB", None),
        ("RED_CELLS", "B", "A", "ABO_INCOMPATIBLE"),
        ("PLASMA", "O", "A", "ABO_INCOMPATIBLE"),
        ("PLASMA", "AB", "O", None),
        ("WHOLE_BLOOD", "O", "A", "ABO_INCOMPATIBLE"),
        ("WHOLE_BLOOD", "A", "A", None),
        ("PLATELETS", "A", "A", None),
        ("PLATELETS", "O", "A", "ABO_OUT_OF_GROUP"),
        ("PLATELETS", "AB", "O", "ABO_OUT_OF_GROUP"),
        ("CRYO", "O", "A", "ABO_OUT_OF_GROUP"),
        ("CRYO", "AB", "O", None),
        ("CRYO", "A", "A", None),
    ],
)
def test_abo_major_incompatibility_and_out_of_group_follow_the_component(
    ledger: DomainLedger, component: str, donor: str, patient: str, flag: str | None
) -> None:
    timeline = Timeline()
    timeline.produced(component=component, abo=donor)
    timeline.released()
    timeline.crossmatched(abo=patient)
    timeline.started()
    abo_flags = {f for f in flags(ledger, timeline) if f.startswith("ABO_")}
    assert abo_flags == ({flag} if flag else set())


def test_rhd_positive_red_cells_to_rhd_negative_patient_is_flagged(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced(rhd="POS")
    timeline.released()
    timeline.crossmatched(rhd="NEG")
    timeline.started()
    assert flags(ledger, timeline) == {"RHD_INCOMPATIBLE"}


@pytest.mark.parametrize(
    ("sample_hour", "result", "flagged"),
    [
        (19, "COMPATIBLE", False),
        (23 - 73, "COMPATIBLE", True),
        (23 - 71, "COMPATIBLE", False),
        (19, "INCOMPATIBLE", True),
        (None, None, True),
    ],
)
def test_red_cells_need_a_compatible_crossmatch_on_a_recent_sample(
    ledger: DomainLedger, sample_hour: float | None, result: str | None, flagged: bool
) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    if result is not None:
        timeline.crossmatched(hour=20, sample_hour=sample_hour, result=result)
    timeline.started(hour=23)
    assert ("NO_VALID_CROSSMATCH" in flags(ledger, timeline)) is flagged


def test_crossmatch_for_another_patient_does_not_count(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    timeline.crossmatched(patient="P000009")
    timeline.started(patient="P000001")
    assert flags(ledger, timeline) == {"NO_VALID_CROSSMATCH"}


def test_plasma_needs_no_crossmatch(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced(product_code=PLASMA, component="PLASMA")
    timeline.released(product_code=PLASMA)
    timeline.started(product_code=PLASMA)
    assert flags(ledger, timeline, PLASMA) == set()


@pytest.mark.parametrize(("patient", "flagged"), [("P000001", False), ("P000002", True)])
def test_autologous_unit_only_to_its_intended_patient(
    ledger: DomainLedger, patient: str, flagged: bool
) -> None:
    timeline = Timeline()
    timeline.collected(donation_type="AUTOLOGOUS", intended="P000001")
    timeline.produced()
    timeline.released()
    timeline.crossmatched(patient=patient)
    timeline.started(patient=patient)
    assert ("AUTOLOGOUS_MISMATCH" in flags(ledger, timeline)) is flagged


def test_second_transfusion_start_is_double_use(ledger: DomainLedger) -> None:
    timeline = Timeline().transfused_cleanly()
    timeline.crossmatched(hour=26, patient="P000002")
    timeline.started(hour=27, patient="P000002")
    assert flags(ledger, timeline) == {"DOUBLE_USE"}


@pytest.mark.parametrize(("minutes", "flagged"), [(20, False), (30, False), (45, True)])
def test_return_after_thirty_minutes_then_use_is_cold_chain(
    ledger: DomainLedger, minutes: int, flagged: bool
) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    timeline.crossmatched()
    timeline.dispensed(hour=21)
    timeline.returned(hour=21.9, minutes=minutes)
    timeline.dispensed(hour=22)
    timeline.started(hour=23)
    assert ("COLD_CHAIN" in flags(ledger, timeline)) is flagged


def test_warm_receipt_is_cold_chain_only_when_the_unit_is_used(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    timeline.issued()
    timeline.received(ok=False)
    assert flags(ledger, timeline) == set()
    later = Timeline(din=timeline.din)
    later.crossmatched()
    later.started()
    assert flags(ledger, later) == {"COLD_CHAIN"}


def test_failed_bedside_check_is_flagged(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    timeline.crossmatched()
    timeline.started(bedside=False)
    assert flags(ledger, timeline) == {"NO_BEDSIDE_CHECK"}


def test_receipt_where_never_issued_is_an_unexpected_sequence(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    timeline.issued(to="S3103")
    timeline.received(at_facility=HOSPITAL)
    assert flags(ledger, timeline) == {"UNEXPECTED_SEQUENCE"}


def test_late_receipt_lands_in_its_true_place(ledger: DomainLedger) -> None:
    timeline = Timeline().transfused_cleanly()
    receipt = next(f for f in timeline.facts if f.event_type == "UnitReceived")
    first = [f for f in timeline.facts if f is not receipt]
    record(ledger, first)
    assert state(ledger, timeline).facility == "S3101"  # never received, as far as we know
    record(ledger, [receipt])
    final = state(ledger, timeline)
    assert (final.status, final.facility, final.flags) == ("TRANSFUSED", HOSPITAL, ())


def test_release_reported_late_still_precedes_the_issue(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    release = timeline.released(hour=6)
    timeline.issued(hour=8)
    record(ledger, [f for f in timeline.facts if f is not release])
    assert "UNRELEASED_USE" in state(ledger, timeline).flags
    record(ledger, [release])
    assert state(ledger, timeline).flags == ()


def test_repeated_event_id_is_a_no_op(ledger: DomainLedger) -> None:
    timeline = Timeline().transfused_cleanly()
    first = ledger.record(timeline.facts)
    again = ledger.record(timeline.facts)
    assert first.duplicates == 0
    assert again.duplicates == len(timeline.facts)
    assert again.events == 0
    unit = ledger.units_of(timeline.din, RBC)[0]
    assert len(unit.facts) == len(timeline.facts)


def test_donation_facts_appear_in_every_units_history(ledger: DomainLedger) -> None:
    timeline = Timeline()
    collected = timeline.collected()
    timeline.produced(product_code=RBC)
    timeline.produced(product_code=PLASMA, component="PLASMA")
    grouped = timeline.grouped()
    record(ledger, timeline.facts)
    units = ledger.units_of(timeline.din)
    assert [u.product_code for u in units] == [RBC, PLASMA]
    for unit in units:
        ids = [f.event_id for f in unit.facts]
        assert collected.event_id in ids
        assert grouped.event_id in ids


def test_conflicting_transfusions_are_both_kept(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    timeline.crossmatched(patient="P000001")
    timeline.crossmatched(patient="P000002")
    timeline.started(hour=23, patient="P000001")
    timeline.started(hour=23.5, patient="P000002")
    record(ledger, timeline.facts)
    unit = ledger.units_of(timeline.din, RBC)[0]
    assert [f.EVENT_TYPE for f in unit.facts].count("TransfusionStarted") == 2
    assert "DOUBLE_USE" in unit.state().flags


def test_discarded_unit_is_out_of_stock_and_its_use_is_unexpected(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    timeline.discarded(hour=7, reason="DAMAGED")
    record(ledger, timeline.facts)
    assert state(ledger, timeline).status == "DISCARDED"
    timeline.issued(hour=8)
    assert flags(ledger, timeline) == {"UNEXPECTED_SEQUENCE"}


def test_a_unit_returned_in_time_is_available_again(ledger: DomainLedger) -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.released()
    timeline.issued()
    timeline.received()
    timeline.dispensed(hour=21)
    timeline.returned(hour=21.3, minutes=18)
    record(ledger, timeline.facts)
    now = state(ledger, timeline)
    assert (now.status, now.holder_patient_id, now.facility, now.flags) == (
        "AVAILABLE",
        None,
        HOSPITAL,
        (),
    )
    assert state(ledger, timeline, hour=21.1).holder_patient_id == "P000001"


def test_crossmatch_for_a_unit_not_produced_yet_is_kept_and_flagged(ledger: DomainLedger) -> None:
    timeline = Timeline()
    early = timeline.crossmatched(hour=1)
    timeline.produced(hour=2)
    record(ledger, timeline.facts)
    [unit] = ledger.units_of(timeline.din, RBC)
    assert early.event_id in [f.event_id for f in unit.facts]
    findings = unit.state().findings
    assert [(f.flag, f.event_id) for f in findings] == [("UNEXPECTED_SEQUENCE", early.event_id)]
