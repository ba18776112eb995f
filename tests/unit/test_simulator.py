"""The demo generator: deterministic, well-formed, and honest about what it planted.

Besides the shape of the stream, a small reference oracle here re-derives the
contract's safety flags from the facts, so the tests can check that the only
flags a correct ledger would raise are exactly the breaches the generator says
it injected (:attr:`DemoStream.injected`).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.domain.din import is_fin, validate_din
from ledger.domain.facts import ReportedFact
from ledger.domain.lookback import automatic_case_id
from ledger.domain.vocabulary import (
    DONATION_LEVEL,
    INFECTIOUS_MARKERS,
    LEDGER_RECORDED,
    EventType,
    Flag,
)
from simulator import (
    BREACH_FLAGS,
    INJECTED_FLAGS,
    REGION_CONFIG,
    ComponentUse,
    DemoConfig,
    DemoStream,
    HospitalUse,
    PlantedRecall,
    generate,
)

Unit = tuple[str, str]


@pytest.fixture(scope="module")
def stream() -> DemoStream:
    return generate()


def unique(facts: Iterable[ReportedFact]) -> list[ReportedFact]:
    """The facts without re-sends (first occurrence of each ``event_id``)."""
    seen: set[str] = set()
    first = []
    for fact in facts:
        if fact.event_id not in seen:
            seen.add(fact.event_id)
            first.append(fact)
    return first


# -- determinism and size -----------------------------------------------------------


def test_same_seed_gives_identical_stream(stream: DemoStream) -> None:
    again = generate(DemoConfig())
    assert again.facts == stream.facts
    assert dict(again.injected) == dict(stream.injected)
    assert (again.late, again.resent) == (stream.late, stream.resent)


def test_different_seed_gives_different_stream(stream: DemoStream) -> None:
    other = generate(DemoConfig(seed=7))
    assert other.facts != stream.facts
    assert {f.event_id for f in other.facts}.isdisjoint(f.event_id for f in stream.facts)


def test_default_stream_is_month_sized_and_quick() -> None:
    started = time.perf_counter()
    facts = generate().facts
    assert time.perf_counter() - started < 2.0
    assert 5_000 <= len(facts) <= 15_000


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(DemoConfig(start=datetime(2026, 9, 1)))


# -- shape of every fact ------------------------------------------------------------


def test_every_din_is_valid(stream: DemoStream) -> None:
    for fact in stream.facts:
        validate_din(fact.din)
        assert fact.din.startswith(stream.centre)


def test_facilities_are_fins(stream: DemoStream) -> None:
    assert is_fin(stream.centre)
    assert all(is_fin(hospital) for hospital in stream.hospitals)
    assert {f.facility for f in stream.facts} == {stream.centre, *stream.hospitals}


#: Facts that answer the ledger's own messages: a facility acknowledges a recall notice
#: it read on ``bloodledger.notices``, which the simulated world does not read.
ANSWERS_TO_THE_LEDGER = frozenset({EventType.NoticeAcknowledged})


def test_every_event_type_of_the_contract_appears(stream: DemoStream) -> None:
    """Every type integrators send unprompted (the ledger records its bedside checks
    itself; acknowledgements answer its notices)."""
    expected = {t.value for t in EventType if t not in LEDGER_RECORDED | ANSWERS_TO_THE_LEDGER}
    assert {f.event_type for f in stream.facts} == expected


def test_product_code_only_on_unit_level_facts(stream: DemoStream) -> None:
    for fact in stream.facts:
        if fact.event_type in DONATION_LEVEL:
            assert fact.product_code is None
        else:
            assert fact.product_code is not None
            assert len(fact.product_code) == 8


def test_timestamps_are_timezone_aware(stream: DemoStream) -> None:
    for fact in stream.facts:
        moments = [fact.occurred_at, *(v for v in fact.payload.values() if isinstance(v, datetime))]
        for moment in moments:
            assert moment.utcoffset() == timedelta(0)
            assert moment.microsecond % 1000 == 0  # survives timestamp-millis


def test_payload_values_are_plain(stream: DemoStream) -> None:
    plain = (str, int, float, bool, datetime, type(None))
    for fact in stream.facts:
        assert type(fact.event_type) is str
        for value in fact.payload.values():
            assert type(value) in plain, (fact.event_type, value)


def test_event_ids_are_uuid4_strings(stream: DemoStream) -> None:
    for fact in stream.facts[:500]:
        assert uuid.UUID(fact.event_id).version == 4


def test_no_person_id_in_facility_or_source_fields(stream: DemoStream) -> None:
    people = set()
    for fact in stream.facts:
        for name in ("donor_id", "patient_id", "intended_patient_id"):
            if fact.payload.get(name):
                people.add(fact.payload[name])
    assert people
    for fact in stream.facts:
        for value in (fact.facility, fact.source_system, fact.actor):
            assert value not in people
            assert value is None or not any(person in value for person in people)


def test_each_unit_has_its_facts_at_distinct_instants(stream: DemoStream) -> None:
    seen: Counter[tuple[str, str | None, datetime]] = Counter(
        (f.din, f.product_code, f.occurred_at)
        for f in unique(stream.facts)
        if f.product_code is not None
    )
    assert max(seen.values()) == 1


def test_every_issued_unit_is_received_where_it_was_sent(stream: DemoStream) -> None:
    issued = 0
    for facts in units(stream.facts).values():
        for i, fact in enumerate(facts):
            if fact.event_type == EventType.UnitIssued:
                issued += 1
                receipt = next(f for f in facts[i:] if f.event_type == EventType.UnitReceived)
                assert receipt.facility == fact.payload["to_facility"]
                assert fact.facility == stream.centre
    assert issued > 0


# -- publication order --------------------------------------------------------------


def test_resends_are_exact_duplicates(stream: DemoStream) -> None:
    by_id: defaultdict[str, list[ReportedFact]] = defaultdict(list)
    for fact in stream.facts:
        by_id[fact.event_id].append(fact)
    copies = [facts for facts in by_id.values() if len(facts) > 1]
    assert stream.resent > 0
    assert sum(len(facts) - 1 for facts in copies) == stream.resent
    for facts in copies:
        assert all(fact == facts[0] for fact in facts)


def test_late_facts_are_out_of_occurred_at_order(stream: DemoStream) -> None:
    latest = datetime.min.replace(tzinfo=UTC)
    late = []
    for fact in unique(stream.facts):
        if fact.occurred_at < latest:
            late.append(fact)
        latest = max(latest, fact.occurred_at)
    assert len(late) == stream.late > 0
    assert all(fact.facility != stream.centre for fact in late)
    assert stream.late < 0.05 * len(stream.facts)


# -- what was planted ---------------------------------------------------------------


def test_all_injected_flags_are_present(stream: DemoStream) -> None:
    assert set(stream.injected) == set(INJECTED_FLAGS)
    for flag in INJECTED_FLAGS:
        assert stream.injected[flag], flag


def test_breaches_are_about_the_configured_share(stream: DemoStream) -> None:
    started = sum(1 for f in unique(stream.facts) if f.event_type == EventType.TransfusionStarted)
    breaches = sum(len(stream.injected[flag]) for flag in BREACH_FLAGS)
    assert 0.01 <= breaches / started <= 0.06


def test_reactive_donations_have_all_their_units_injected(stream: DemoStream) -> None:
    reactive = {
        f.din
        for f in stream.facts
        if f.event_type == EventType.TestResultRecorded and f.payload["result"] == "REACTIVE"
    }
    produced = {
        (f.din, f.product_code)
        for f in stream.facts
        if f.event_type == EventType.ComponentProduced and f.din in reactive
    }
    assert reactive
    assert set(stream.injected[Flag.REACTIVE_DONATION]) == produced


def test_flags_raised_are_exactly_the_injected_ones(stream: DemoStream) -> None:
    assert_only_injected_flags(stream)


def test_scales_to_many_hospitals() -> None:
    config = DemoConfig(seed=11, days=10, hospitals=20, donations_per_day=200)
    stream = generate(config)
    assert len(stream.hospitals) == 20
    assert all(is_fin(hospital) for hospital in stream.hospitals)
    assert_only_injected_flags(stream)


# -- the planted recall -------------------------------------------------------------

#: The small world with the recall planted (the region plants it too).
RECALLED = DemoConfig(recall=True)


@pytest.fixture(scope="module")
def recalled() -> DemoStream:
    return generate(RECALLED)


def planted(stream: DemoStream) -> PlantedRecall:
    assert stream.recall is not None
    return stream.recall


def test_no_recall_is_planted_unless_asked_for(stream: DemoStream) -> None:
    assert stream.recall is None


def test_the_recall_raises_no_flag_but_its_reactive_donations(recalled: DemoStream) -> None:
    assert_only_injected_flags(recalled)
    reactive = {din for din, _ in recalled.injected[Flag.REACTIVE_DONATION]}
    assert planted(recalled).reactive_din in reactive
    assert planted(recalled).earlier_din not in reactive


def collections_of(stream: DemoStream) -> dict[str, ReportedFact]:
    return {f.din: f for f in unique(stream.facts) if f.event_type == EventType.DonationCollected}


def test_the_recalled_donor_gave_whole_blood_twice_six_months_apart(recalled: DemoStream) -> None:
    recall = planted(recalled)
    collected = collections_of(recalled)
    earlier, later = collected[recall.earlier_din], collected[recall.reactive_din]
    donors = [f.din for f in collected.values() if f.payload["donor_id"] == recall.donor_id]
    assert sorted(donors) == sorted([recall.earlier_din, recall.reactive_din])
    assert later.occurred_at - earlier.occurred_at >= timedelta(days=180)
    for fact in (earlier, later):
        assert (fact.payload["procedure"], fact.payload["donation_type"]) == (
            "WHOLE_BLOOD",
            "VOLUNTARY",
        )
    assert earlier.occurred_at < recalled.end - timedelta(days=RECALLED.days)  # before the period
    assert recall.earlier_din < recall.reactive_din  # the centre numbers DINs as it collects


def test_the_earlier_donation_was_negative_and_the_later_reactive_days_before_the_end(
    recalled: DemoStream,
) -> None:
    recall = planted(recalled)
    results = [f for f in unique(recalled.facts) if f.event_type == EventType.TestResultRecorded]
    earlier = [f.payload["result"] for f in results if f.din == recall.earlier_din]
    assert len(earlier) == 9
    assert set(earlier) == {"NEGATIVE"}
    reactive = [
        (f.payload["test"], f.occurred_at)
        for f in results
        if f.din == recall.reactive_din and f.payload["result"] == "REACTIVE"
    ]
    assert reactive == [(recall.test, recall.result_at)]
    assert recall.test in INFECTIOUS_MARKERS
    assert recall.result_at <= recalled.end - timedelta(days=4)
    assert recall.case_id == automatic_case_id(recall.reactive_din)


def test_the_earlier_units_are_where_their_notices_must_go_when_the_result_comes(
    recalled: DemoStream,
) -> None:
    """Shelved, transfused or on the way at the result, and untouched after it."""
    recall = planted(recalled)
    by_unit = units(recalled.facts)
    shelf, given, moving = (
        by_unit[(u.din, u.product_code)]
        for u in (recall.on_shelf, recall.transfused, recall.in_transit)
    )
    assert [f.din for f in (shelf[0], given[0], moving[0])] == [recall.earlier_din] * 3
    assert {u for u in by_unit if u[0] == recall.earlier_din} == {
        (u.din, u.product_code) for u in (recall.on_shelf, recall.transfused, recall.in_transit)
    }
    for facts in (shelf, given, moving):
        assert facts[-1].occurred_at < recall.result_at
    assert (shelf[-1].event_type, shelf[-1].facility) == (
        EventType.UnitReceived,
        recall.on_shelf.facility,
    )
    started = [f for f in given if f.event_type == EventType.TransfusionStarted]
    assert [(f.facility, f.payload["patient_id"]) for f in started] == [
        (recall.transfused.facility, recall.recipient_id)
    ]
    assert moving[-1].event_type == EventType.UnitIssued
    assert moving[-1].payload["to_facility"] == recall.in_transit.facility
    assert not [f for f in moving if f.event_type == EventType.UnitReceived]
    facilities = {u.facility for u in (recall.on_shelf, recall.transfused, recall.in_transit)}
    assert len(facilities) == 3
    assert facilities <= set(recalled.hospitals)


def test_the_recall_names_its_notices_by_unit_facility_and_action(recalled: DemoStream) -> None:
    recall = planted(recalled)
    actions = {(n[2], n[3], n[4]) for n in recall.notices()}
    assert actions == {
        (recall.on_shelf.facility, "QUARANTINE", None),
        (recall.transfused.facility, "NOTIFY_RECIPIENT", recall.recipient_id),
        (recall.in_transit.facility, "QUARANTINE", None),
    }


def test_with_two_hospitals_the_unit_on_its_way_goes_to_the_first() -> None:
    stream = generate(DemoConfig(recall=True, hospitals=2, days=10, seed=4))
    recall = planted(stream)
    assert recall.in_transit.facility == recall.on_shelf.facility != recall.transfused.facility
    assert_only_injected_flags(stream)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (DemoConfig(recall=True, hospitals=1), "at least 2 hospitals"),
        (DemoConfig(recall=True, days=4), "at least 5 days"),
        (DemoConfig(recall=True, donations_per_day=0), "at least 5 days"),
    ],
)
def test_a_recall_that_cannot_be_planted_is_refused(config: DemoConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(config)


# -- the world's knobs and the demo's region ----------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        DemoConfig(lead_in_days=-1),
        DemoConfig(rhd_negative_share=1.5),
        DemoConfig(autologous_share=0.6, apheresis_share=0.6),
        DemoConfig(use=HospitalUse(plasma=ComponentUse(per_donation=-0.1, cover_days=4))),
    ],
)
def test_a_world_out_of_bounds_is_refused(config: DemoConfig) -> None:
    with pytest.raises(ValueError, match="DemoConfig"):
        generate(config)


def test_a_lead_in_stocks_the_centre_before_the_first_request() -> None:
    config = DemoConfig(days=3, lead_in_days=4, hospitals=2, seed=3)
    stream = generate(config)
    before = [f for f in unique(stream.facts) if f.occurred_at < config.start]
    assert {f.facility for f in before} == {stream.centre}
    collected = [f for f in before if f.event_type == EventType.DonationCollected]
    assert len(collected) > 2 * config.donations_per_day
    platelets = [f for f in collected if f.payload["procedure"] == "APHERESIS"]
    assert platelets  # collected in the lead-in's last two days, to be in date for the period
    assert all(f.occurred_at >= config.start - timedelta(days=2) for f in platelets)
    first_run = [
        f
        for f in unique(stream.facts)
        if f.event_type == EventType.UnitReceived
        and f.occurred_at < config.start + timedelta(hours=6)
    ]
    assert {f.din for f in first_run} <= {f.din for f in collected}  # the reserve goes out
    assert len(first_run) > config.donations_per_day


def test_rhd_negative_plasma_may_be_left_at_the_centre() -> None:
    def issued_rhd_negative(use: HospitalUse) -> set[str]:
        stream = generate(DemoConfig(breach_rate=0, rhd_negative_share=0.1, use=use, seed=8))
        groups = {
            (f.din, f.product_code): (f.payload["component"], f.payload["rhd"])
            for f in stream.facts
            if f.event_type == EventType.ComponentProduced
        }
        return {
            groups[(f.din, f.product_code)][0]
            for f in stream.facts
            if f.event_type == EventType.UnitIssued and groups[(f.din, f.product_code)][1] == "NEG"
        }

    assert issued_rhd_negative(HospitalUse()) >= {"PLASMA", "RED_CELLS"}
    kept = issued_rhd_negative(HospitalUse(rhd_negative_plasma=False))
    assert "RED_CELLS" in kept
    assert not kept & {"PLASMA", "CRYO"}


@pytest.fixture(scope="module")
def region() -> DemoStream:
    return generate(REGION_CONFIG)


def test_the_region_fits_the_demo_s_minute(region: DemoStream) -> None:
    """``make demo`` ingests it in well under a minute (about 8,000 facts a second)."""
    assert 60_000 <= len(region.facts) <= 130_000
    assert len(region.hospitals) == REGION_CONFIG.hospitals >= 3
    assert region.recall is not None
    assert region.late > 0


def test_the_region_raises_only_the_flags_it_planted(region: DemoStream) -> None:
    assert_only_injected_flags(region)
    for flag in BREACH_FLAGS:
        assert region.injected[flag], flag


def test_the_region_transfuses_as_the_seed_hospital_reports(region: DemoStream) -> None:
    """The seed hospital's 2025 report: component transfusion rate 99.1 %; of the units
    (单位) transfused, red cells 78.6 %, plasma 15.3 %, platelets 5.7 %, cryo 0.4 %."""
    produced = {
        (f.din, f.product_code): f.payload
        for f in region.facts
        if f.event_type == EventType.ComponentProduced
    }
    given = [
        produced[(f.din, f.product_code)]
        for f in unique(region.facts)
        if f.event_type == EventType.TransfusionStarted
    ]
    whole_blood = sum(1 for p in given if p["component"] == "WHOLE_BLOOD")
    assert 0.985 <= 1 - whole_blood / len(given) <= 0.997
    units_given: Counter[str] = Counter()
    for p in given:
        units_given[p["component"]] += p["units"]
    share = {c: n / sum(units_given.values()) for c, n in units_given.items()}
    assert 0.72 <= share["RED_CELLS"] <= 0.85
    assert 0.10 <= share["PLASMA"] <= 0.20
    assert 0.035 <= share["PLATELETS"] <= 0.08
    assert share["CRYO"] <= 0.02


def test_the_region_s_rhd_negative_donors_are_as_rare_as_among_han_chinese(
    region: DemoStream,
) -> None:
    groups = [
        f.payload["rhd"]
        for f in region.facts
        if f.event_type == EventType.TestResultRecorded and f.payload["test"] == "ABO_RHD"
    ]
    assert 0.001 <= groups.count("NEG") / len(groups) <= 0.008


# -- the reference oracle ----------------------------------------------------------

RED_CELL_DONORS = {"O": {"O"}, "A": {"A", "O"}, "B": {"B", "O"}, "AB": {"AB", "A", "B", "O"}}
PLASMA_DONORS = {"O": {"O", "A", "B", "AB"}, "A": {"A", "AB"}, "B": {"B", "AB"}, "AB": {"AB"}}
CROSSMATCHED = {"RED_CELLS", "WHOLE_BLOOD"}
CELLULAR = {"RED_CELLS", "WHOLE_BLOOD", "PLATELETS"}

#: Allowed (state, event type) -> next state; anything else is an unexpected sequence.
MOVES = {
    ("produced", "UnitReleased"): "stocked",
    ("produced", "UnitDiscarded"): "discarded",
    ("produced", "UnitIssued"): "in transit",  # unreleased use: flagged, not unexpected
    ("stocked", "UnitQuarantined"): "quarantined",
    ("quarantined", "UnitDiscarded"): "discarded",
    ("stocked", "UnitIssued"): "in transit",
    ("stocked", "UnitDiscarded"): "discarded",
    ("in transit", "UnitReceived"): "at hospital",
    ("at hospital", "CrossmatchPerformed"): "at hospital",
    ("at hospital", "UnitDispensed"): "on ward",
    ("at hospital", "UnitDiscarded"): "discarded",
    ("on ward", "UnitReturned"): "at hospital",
    ("on ward", "TransfusionStarted"): "transfusing",
    ("transfusing", "TransfusionCompleted"): "transfused",
    ("transfused", "AdverseReactionReported"): "transfused",
    ("transfused", "TransfusionEvaluated"): "transfused",
    ("transfused", "TransfusionStarted"): "transfusing",  # double use: flagged
}


def units(facts: Iterable[ReportedFact]) -> dict[Unit, list[ReportedFact]]:
    """Each unit's facts in ``occurred_at`` order, without re-sends."""
    by_unit: defaultdict[Unit, list[ReportedFact]] = defaultdict(list)
    for fact in unique(facts):
        if fact.product_code is not None:
            by_unit[(fact.din, fact.product_code)].append(fact)
    return {unit: sorted(fs, key=lambda f: f.occurred_at) for unit, fs in by_unit.items()}


def assert_only_injected_flags(stream: DemoStream) -> None:
    expected: defaultdict[Unit, set[str]] = defaultdict(set)
    for flag, flagged in stream.injected.items():
        for unit in flagged:
            expected[unit].add(flag)
    raised = oracle_flags(stream.facts)
    wrong = {u: (raised.get(u, set()), expected.get(u, set())) for u in raised.keys() | expected}
    wrong = {u: pair for u, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, list(wrong.items())[:5]


def oracle_flags(facts: Iterable[ReportedFact]) -> dict[Unit, set[str]]:
    """The contract's flag table, applied naively to every unit."""
    facts = unique(facts)
    donations: dict[str, Mapping[str, Any]] = {}
    reactive: set[str] = set()
    groups: dict[str, tuple[str, str]] = {}  # patient -> (ABO, RhD), from any crossmatch
    for fact in facts:
        if fact.event_type == EventType.CrossmatchPerformed:
            groups[fact.payload["patient_id"]] = (
                fact.payload["patient_abo"],
                fact.payload["patient_rhd"],
            )
        if fact.event_type == EventType.DonationCollected:
            donations[fact.din] = fact.payload
        elif fact.event_type == EventType.TestResultRecorded and is_reactive_marker(fact):
            reactive.add(fact.din)
    raised = {}
    for unit, unit_facts in units(facts).items():
        flags = unit_flags(unit_facts, donations[unit[0]], unit[0] in reactive, groups)
        if flags:
            raised[unit] = flags
    return raised


def is_reactive_marker(fact: ReportedFact) -> bool:
    return fact.payload["test"] in INFECTIOUS_MARKERS and fact.payload["result"] == "REACTIVE"


def unit_flags(
    facts: list[ReportedFact],
    donation: Mapping[str, Any],
    reactive: bool,
    groups: Mapping[str, tuple[str, str]],
) -> set[str]:
    flags = {Flag.REACTIVE_DONATION.value} if reactive else set()
    state, released, quarantined, excursion = "produced", False, reactive, False
    produced: Mapping[str, Any] = {}
    crossmatches: list[Mapping[str, Any]] = []
    patients: list[str] = []
    for fact in facts:
        kind, p = fact.event_type, fact.payload
        following = MOVES.get((state, kind)) if kind != "ComponentProduced" else "produced"
        if following is None:
            flags.add(Flag.UNEXPECTED_SEQUENCE.value)
        state = following or state
        if kind == "ComponentProduced":
            produced = p
        released = released or kind == "UnitReleased"
        quarantined = quarantined or kind == "UnitQuarantined"
        in_use = kind in ("UnitIssued", "UnitDispensed", "TransfusionStarted")
        if in_use and (not released or quarantined):
            flags.add(Flag.UNRELEASED_USE.value)
        if kind == "CrossmatchPerformed":
            crossmatches.append(p)
        if kind == "UnitReceived" and not p["temperature_ok"]:
            excursion = True
        if kind == "UnitReturned" and p["minutes_out_of_storage"] > 30:
            excursion = True
        if kind == "TransfusionStarted":
            flags |= start_flags(fact, produced, donation, crossmatches, patients, excursion)
            flags |= group_flags(fact, produced, crossmatches, groups)
            patients.append(p["patient_id"])
    return flags


def start_flags(
    start: ReportedFact,
    produced: Mapping[str, Any],
    donation: Mapping[str, Any],
    crossmatches: list[Mapping[str, Any]],
    patients: list[str],
    excursion: bool,
) -> set[str]:
    flags = set()
    patient, at, component = start.payload["patient_id"], start.occurred_at, produced["component"]
    if at > produced["expires_at"]:
        flags.add(Flag.EXPIRED_USE.value)
    if not start.payload["bedside_check_passed"]:
        flags.add(Flag.NO_BEDSIDE_CHECK.value)
    if patients:
        flags.add(Flag.DOUBLE_USE.value)
    if excursion:
        flags.add(Flag.COLD_CHAIN.value)
    if donation["donation_type"] == "AUTOLOGOUS" and patient != donation["intended_patient_id"]:
        flags.add(Flag.AUTOLOGOUS_MISMATCH.value)
    mine = [x for x in crossmatches if x["patient_id"] == patient]
    valid = [
        x
        for x in mine
        if x["result"] == "COMPATIBLE" and at - timedelta(days=3) <= x["sample_collected_at"] <= at
    ]
    if component in CROSSMATCHED and not valid:
        flags.add(Flag.NO_VALID_CROSSMATCH.value)
    return flags


def group_flags(
    start: ReportedFact,
    produced: Mapping[str, Any],
    crossmatches: list[Mapping[str, Any]],
    groups: Mapping[str, tuple[str, str]],
) -> set[str]:
    """ABO and RhD of the unit against the patient's group (this unit's crossmatch first)."""
    patient, component = start.payload["patient_id"], produced["component"]
    mine = [
        (x["patient_abo"], x["patient_rhd"]) for x in crossmatches if x["patient_id"] == patient
    ]
    group = mine[-1] if mine else groups.get(patient)
    if group is None:
        return set()
    patient_abo, patient_rhd = group
    if component == "RED_CELLS":
        allowed = RED_CELL_DONORS[patient_abo]
    elif component in ("PLASMA", "CRYO"):
        allowed = PLASMA_DONORS[patient_abo]
    else:
        allowed = {patient_abo}
    flags = set()
    if produced["abo"] not in allowed:
        flags.add(Flag.ABO_INCOMPATIBLE.value)
    if component in CELLULAR and patient_rhd == "NEG" and produced["rhd"] == "POS":
        flags.add(Flag.RHD_INCOMPATIBLE.value)
    return flags


def test_the_benchmark_workload_scales_facilities_donors_and_days() -> None:
    from dataclasses import replace

    from benchmarks.workload import Scale, history

    def donors(facts: list[ReportedFact]) -> set[str]:
        return {f.payload["donor_id"] for f in facts if f.event_type == "DonationCollected"}

    two_years = Scale(hospitals=2, donations_per_day=4, days=730)  # donors may return
    loyal = history(10**6, replace(two_years, repeat_donor_share=0.95))
    casual = history(10**6, replace(two_years, repeat_donor_share=0.0))
    assert len(donors(loyal)) < len(donors(casual)) * 0.8
    wide = history(20_000, Scale(hospitals=9, donations_per_day=30))
    assert len({f.facility for f in wide}) > len({f.facility for f in loyal})
    week = history(10**6, Scale(days=7))
    span = max(f.occurred_at for f in week) - min(f.occurred_at for f in week)
    assert span.days < 40  # 7 days of collections, and what follows them
