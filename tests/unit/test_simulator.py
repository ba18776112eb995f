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
    DemoConfig,
    DemoStream,
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
