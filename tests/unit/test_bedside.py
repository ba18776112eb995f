"""The bedside pre-transfusion check's rules, on the unit's state machine alone.

Each story is one unit's life up to the moment a nurse scans it for patient
``P000001`` (group A POS) at the hospital, 15 minutes after it was dispensed for
them: a clean story answers ALLOW. One change to the story per reason makes that
reason — and no other — apply; any combination of changes gives every reason of
each, not the first; the decision is the worst severity. And the check agrees
with the flags the state machine raises when a transfusion is then reported
started at the same instant, including ``STARTED_AFTER_STOP``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.bedside import (
    FLAG_OF,
    SEVERITY,
    BedsideAnswer,
    BedsideRequest,
    Reason,
    check_unit,
    decision_of,
)
from ledger.domain.facts import ReportedFact
from ledger.domain.unit_state import UnitState, evaluate
from ledger.domain.vocabulary import BREACH_FLAGS, Decision, Flag, ReasonCode
from tests.builders import CENTRE, HOSPITAL, RBC, Timeline, at
from tests.unit.test_unit_state import stored

PATIENT = "P000001"
OTHER_FACILITY = "S3103"
DISPENSED_HOUR = 22
#: The check: 15 minutes after the unit was dispensed.
CHECK_HOUR = DISPENSED_HOUR + 0.25


@dataclass(frozen=True)
class Story:
    """One unit's life, clean by default; each field is one thing that can go wrong."""

    component: str = "RED_CELLS"
    unit_abo: str = "A"
    unit_rhd: str = "POS"
    shelf_days: float = 35
    autologous_for: str | None = None
    reactive: bool = False
    released: bool = True
    quarantine_case: str | None = None
    received: bool = True
    received_ok: bool = True
    crossmatch_abo: str = "A"
    crossmatch_rhd: str = "POS"
    sample_hours_before: float = 1
    discarded: bool = False
    dispensed_to: str = PATIENT
    #: A transfusion of the unit started already, for the patient it was dispensed to.
    started: bool = False
    check_hour: float = CHECK_HOUR
    facility: str = HOSPITAL
    patient_abo: str = "A"
    patient_rhd: str = "POS"

    def timeline(self, din_value: str | None = None) -> Timeline:
        story = Timeline() if din_value is None else Timeline(din=din_value)
        kind = "AUTOLOGOUS" if self.autologous_for else "VOLUNTARY"
        story.collected(donation_type=kind, intended=self.autologous_for)
        story.produced(
            component=self.component,
            abo=self.unit_abo,
            rhd=self.unit_rhd,
            shelf_days=self.shelf_days,
        )
        story.tested(result="REACTIVE" if self.reactive else "NEGATIVE")
        if self.released:
            story.released()
        if self.quarantine_case:
            story.fact("UnitQuarantined", 7, RBC, CENTRE, reason="investigation",
                       case_id=self.quarantine_case)  # fmt: skip
        story.issued(hour=8)
        if self.received:
            story.received(hour=10, ok=self.received_ok)
        story.crossmatched(
            hour=20,
            abo=self.crossmatch_abo,
            rhd=self.crossmatch_rhd,
            sample_hour=20 - self.sample_hours_before,
        )
        if self.discarded:
            story.discarded(hour=21)
        story.dispensed(hour=DISPENSED_HOUR, patient=self.dispensed_to)
        if self.started:
            story.started(hour=DISPENSED_HOUR + 0.1, patient=self.dispensed_to)
        return story

    def request(self) -> BedsideRequest:
        return BedsideRequest(
            PATIENT, self.patient_abo, self.patient_rhd, self.facility, at(self.check_hour)
        )


def state_at(facts: Sequence[ReportedFact], moment: datetime) -> UnitState:
    return evaluate(facts[0].din, RBC, stored(facts), as_of=moment)


def answer(story: Story) -> BedsideAnswer:
    request = story.request()
    return check_unit(state_at(story.timeline().facts, request.at), request)


#: One change to the clean story per reason, which makes that reason alone apply.
ALONE: dict[ReasonCode, dict[str, Any]] = {
    ReasonCode.NOT_RELEASED: {"released": False},
    ReasonCode.QUARANTINED: {"quarantine_case": "LB-7"},
    ReasonCode.DISCARDED: {"discarded": True},
    ReasonCode.EXPIRED_USE: {"shelf_days": (21.9 - 2) / 24},
    ReasonCode.ABO_INCOMPATIBLE: {"unit_abo": "B"},
    ReasonCode.ABO_OUT_OF_GROUP: {"component": "PLATELETS", "unit_abo": "O"},
    ReasonCode.RHD_INCOMPATIBLE: {"crossmatch_rhd": "NEG", "patient_rhd": "NEG"},
    ReasonCode.NO_VALID_CROSSMATCH: {"sample_hours_before": 74},
    ReasonCode.OTHER_PATIENT: {"dispensed_to": "P000002"},
    ReasonCode.AUTOLOGOUS_MISMATCH: {"autologous_for": "P000009"},
    ReasonCode.DOUBLE_USE: {"started": True},
    ReasonCode.REACTIVE_DONATION: {"reactive": True},
    ReasonCode.COLD_CHAIN: {"received_ok": False},
    ReasonCode.OUT_OF_STORAGE: {"check_hour": DISPENSED_HOUR + 0.75},
    ReasonCode.NOT_RECEIVED_HERE: {"facility": OTHER_FACILITY},
    ReasonCode.PATIENT_GROUP_MISMATCH: {"crossmatch_abo": "AB"},
}
#: The changes that combine with any other (platelets would take away the red-cell rules).
COMBINABLE = sorted(set(ALONE) - {ReasonCode.ABO_OUT_OF_GROUP})


def story_with(changes: Sequence[ReasonCode]) -> Story:
    story = Story()
    for code in changes:
        story = replace(story, **ALONE[code])
    return story


def test_the_clean_story_is_allowed() -> None:
    assert answer(Story()) == BedsideAnswer(Decision.ALLOW, ())


def test_every_reason_code_has_a_story_and_a_severity() -> None:
    assert set(ALONE) == set(ReasonCode) == set(SEVERITY)
    assert set(SEVERITY.values()) == {Decision.STOP, Decision.WARN}
    assert set(FLAG_OF) <= set(ReasonCode)


@pytest.mark.parametrize("code", list(ReasonCode))
def test_each_reason_alone(code: ReasonCode) -> None:
    found = answer(replace(Story(), **ALONE[code]))
    assert [reason.code for reason in found.reasons] == [code]
    assert found.decision == SEVERITY[code]
    for reason in found.reasons:
        assert reason.severity == SEVERITY[reason.code]
        assert reason.message
        assert "P0000" not in reason.message  # never a patient (or donor) id
        assert set(reason.to_json()) <= {"code", "severity", "message", "case_ids"}


def test_a_quarantine_names_its_case() -> None:
    (reason,) = answer(replace(Story(), quarantine_case="LB-7")).reasons
    assert reason.case_ids == ("LB-7",)
    assert "LB-7" in reason.message
    assert reason.to_json()["case_ids"] == ["LB-7"]


def test_a_unit_in_transit_is_not_received_here() -> None:
    (reason,) = answer(replace(Story(), received=False)).reasons
    assert reason.code == ReasonCode.NOT_RECEIVED_HERE
    assert "in transit" in reason.message


def test_a_crossmatch_for_another_patient_is_another_patients_unit() -> None:
    story = Timeline()
    story.produced()
    story.released()
    story.issued()
    story.received()
    story.crossmatched(hour=20, patient="P000002")
    request = Story().request()
    found = check_unit(state_at(story.facts, request.at), request)
    assert {r.code for r in found.reasons} == {
        ReasonCode.OTHER_PATIENT,
        ReasonCode.NO_VALID_CROSSMATCH,
    }


def test_uncrossmatched_o_negative_red_cells_only_warn() -> None:
    """Emergency release: uncrossmatched O RhD negative red cells are an override."""
    o_neg = replace(Story(), unit_abo="O", unit_rhd="NEG", sample_hours_before=74)
    (reason,) = answer(o_neg).reasons
    assert (reason.code, reason.severity) == (ReasonCode.NO_VALID_CROSSMATCH, Decision.WARN)
    whole_blood = replace(o_neg, component="WHOLE_BLOOD")
    assert answer(whole_blood).decision == Decision.STOP


def test_the_group_in_the_request_counts_as_much_as_the_crossmatchs() -> None:
    """The request says O: group A red cells are incompatible with it, though not with the
    crossmatch's group A — and the two groups disagree (a wrong blood in tube signal)."""
    found = answer(replace(Story(), patient_abo="O"))
    assert {r.code for r in found.reasons} == {
        ReasonCode.ABO_INCOMPATIBLE,
        ReasonCode.PATIENT_GROUP_MISMATCH,
    }
    assert found.decision == Decision.STOP


def test_warnings_alone_warn_and_a_stop_wins() -> None:
    warns = answer(story_with([ReasonCode.RHD_INCOMPATIBLE, ReasonCode.OUT_OF_STORAGE]))
    assert warns.decision == Decision.WARN
    assert [r.code for r in warns.reasons] == [
        ReasonCode.RHD_INCOMPATIBLE,
        ReasonCode.OUT_OF_STORAGE,
    ]
    both = answer(story_with([ReasonCode.RHD_INCOMPATIBLE, ReasonCode.COLD_CHAIN]))
    assert both.decision == Decision.STOP
    assert {r.severity for r in both.reasons} == {Decision.WARN, Decision.STOP}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list(Decision)), max_size=6))
def test_the_decision_is_the_worst_severity(severities: list[Decision]) -> None:
    reasons = [Reason(ReasonCode.COLD_CHAIN, s, "m") for s in severities if s != Decision.ALLOW]
    worst = max((r.severity for r in reasons), key=[*Decision].index, default=Decision.ALLOW)
    assert decision_of(reasons) == worst


# -- combinations, and agreement with the flags --------------------------------------


def started_now(story: Story, check: BedsideAnswer | None) -> tuple[UnitState, str]:
    """The state once a transfusion for the patient is reported started at the check's
    instant (after the check, recorded first, if given), and that start's event id."""
    timeline = story.timeline()
    if check is not None:
        timeline.checked(story.check_hour, PATIENT, check.decision, tuple(check.codes))
    start = timeline.started(hour=story.check_hour, patient=PATIENT)
    return state_at(timeline.facts, at(story.check_hour)), start.event_id


def flags_of_start(state: UnitState, event_id: str) -> set[Flag]:
    return {f.flag for f in state.findings if f.event_id == event_id}


def explained(flag: Flag, found: set[ReasonCode]) -> bool:
    return any(FLAG_OF.get(code) == flag for code in found)


GROUP_REASONS = {ReasonCode.ABO_INCOMPATIBLE, ReasonCode.RHD_INCOMPATIBLE}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(COMBINABLE), unique=True, max_size=len(COMBINABLE)))
def test_a_combination_gives_every_reason_and_agrees_with_the_flags(
    changes: list[ReasonCode],
) -> None:
    story = story_with(changes)
    check = answer(story)
    found = {reason.code for reason in check.reasons}
    assert found >= set(changes)  # each change's reason, whatever else applies
    assert check.decision == decision_of(check.reasons)
    state, start = started_now(story, check)
    raised = flags_of_start(state, start) | (set(state.flags) & {Flag.REACTIVE_DONATION})
    # Every breach the ledger finds in the start, the check named ...
    for flag in raised - {Flag.STARTED_AFTER_STOP}:
        assert explained(flag, found), flag
    # ... and every reason with a flag shows as that flag — the group reasons only if
    # the request's group is the crossmatch's (the check also checks the request's).
    for code in found & set(FLAG_OF):
        if code in GROUP_REASONS and ReasonCode.PATIENT_GROUP_MISMATCH in found:
            continue
        assert FLAG_OF[code] in raised, code
    assert (Flag.STARTED_AFTER_STOP in raised) == (check.decision == Decision.STOP)


@pytest.mark.parametrize("code", sorted(set(FLAG_OF)))
def test_a_reason_with_a_flag_is_the_flag_of_a_start_at_that_instant(code: ReasonCode) -> None:
    story = replace(Story(), **ALONE[code])
    state, start = started_now(story, None)
    raised = flags_of_start(state, start) | (set(state.flags) & {Flag.REACTIVE_DONATION})
    assert FLAG_OF[code] in raised


# -- STARTED_AFTER_STOP ----------------------------------------------------------------


def transfusion(*checks: tuple[float, str, str], start_hour: float = 23) -> UnitState:
    """The clean story, the given checks (hour, patient, decision), then a start."""
    timeline = Story().timeline()
    for hour, patient, decision in checks:
        timeline.checked(hour, patient, decision)
    timeline.started(hour=start_hour, patient=PATIENT)
    return evaluate(timeline.din, RBC, stored(timeline.facts))


def test_a_start_after_a_stop_for_the_patient_is_flagged() -> None:
    state = transfusion((22.5, PATIENT, "STOP"))
    assert state.flags == (Flag.STARTED_AFTER_STOP,)
    assert Flag.STARTED_AFTER_STOP in BREACH_FLAGS
    (finding,) = state.findings
    assert finding.occurred_at == at(23)


@pytest.mark.parametrize(
    "checks",
    [
        [],
        [(22.5, PATIENT, "WARN")],
        [(22.5, PATIENT, "ALLOW")],
        [(22.5, "P000002", "STOP")],  # another patient's check
        [(22.4, PATIENT, "STOP"), (22.6, PATIENT, "ALLOW")],  # the last check allowed it
        [(23.5, PATIENT, "STOP")],  # the STOP came after the start
    ],
)
def test_no_flag_without_a_stop_for_the_patient_before_the_start(
    checks: list[tuple[float, str, str]],
) -> None:
    assert transfusion(*checks).flags == ()


def test_a_check_changes_nothing_else_in_the_state() -> None:
    timeline = Story().timeline()
    before = evaluate(timeline.din, RBC, stored(timeline.facts))
    timeline.checked(22.5, PATIENT, "STOP", ("OUT_OF_STORAGE",))
    assert evaluate(timeline.din, RBC, stored(timeline.facts)) == before
