"""The unit's state machine on its own: :func:`evaluate` and :func:`timeline` over facts.

No aggregate, no store: stored fact classes are made directly from reported
facts and folded. Every status is reached, every flag is raised by some
story, the state as of a moment is the fold of the facts that had occurred,
and the order facts arrive in does not matter (only when they occurred).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.events import Fact, fact_class, new_fact_kwargs
from ledger.domain.facts import ReportedFact
from ledger.domain.unit_state import DetailCode, Status, UnitState, evaluate, timeline
from ledger.domain.vocabulary import EventType, Flag
from tests.builders import HOSPITAL, PLASMA, RBC, Timeline, at, two_units_story

RECORDED = datetime(2026, 10, 1, tzinfo=UTC)


def stored(facts: Sequence[ReportedFact]) -> list[Fact]:
    """The stored events of reported facts, in recording order (as a stream holds them)."""
    return [
        fact_class(f.event_type)(
            originator_id=uuid.uuid4(),
            originator_version=number,
            timestamp=RECORDED,
            **new_fact_kwargs(f),
        )
        for number, f in enumerate(facts, start=1)
    ]


def state_of(story: Timeline, product_code: str = RBC, as_of: datetime | None = None) -> UnitState:
    return evaluate(story.din, product_code, stored(story.facts), as_of)


def _produced() -> Timeline:
    story = Timeline()
    story.produced()
    return story


def _released() -> Timeline:
    story = _produced()
    story.released()
    return story


def _quarantined() -> Timeline:
    story = _released()
    story.quarantined(hour=7)
    return story


def _in_transit() -> Timeline:
    story = _released()
    story.issued()
    return story


def _dispensed() -> Timeline:
    story = _in_transit()
    story.received()
    story.crossmatched()
    story.dispensed()
    return story


def _in_transfusion() -> Timeline:
    story = _dispensed()
    story.started()
    return story


def _transfused() -> Timeline:
    story = _in_transfusion()
    story.completed()
    return story


def _discarded() -> Timeline:
    story = _released()
    story.discarded(hour=9)
    return story


@pytest.mark.parametrize(
    ("story", "status", "facility"),
    [
        (Timeline, Status.NOT_PRODUCED, None),
        (_produced, Status.PRODUCED, "S3101"),
        (_released, Status.AVAILABLE, "S3101"),
        (_quarantined, Status.QUARANTINED, "S3101"),
        (_in_transit, Status.IN_TRANSIT, "S3101"),
        (_dispensed, Status.DISPENSED, HOSPITAL),
        (_in_transfusion, Status.IN_TRANSFUSION, HOSPITAL),
        (_transfused, Status.TRANSFUSED, HOSPITAL),
        (_discarded, Status.DISCARDED, "S3101"),
    ],
)
def test_every_status_is_reached_by_its_transition(
    story: Callable[[], Timeline], status: Status, facility: str | None
) -> None:
    state = state_of(story())
    assert (state.status, state.facility) == (status, facility)
    assert state.flags == ()


def _reactive() -> Timeline:
    story = _produced()
    story.tested(test="HIV_NAT", result="REACTIVE")
    return story


def _unreleased_use() -> Timeline:
    story = _produced()
    story.issued()
    return story


def _expired_use() -> Timeline:
    story = Timeline()
    story.produced(shelf_days=0.1)
    story.released()
    story.crossmatched()
    story.started()
    return story


def _use_with(**crossmatch: str) -> Timeline:
    story = _released()
    story.crossmatched(**crossmatch)
    story.started()
    return story


def _out_of_group_platelets() -> Timeline:
    story = Timeline()
    story.produced(component="PLATELETS", abo="O")
    story.released()
    story.crossmatched(abo="A")
    story.started()
    return story


def _no_valid_crossmatch() -> Timeline:
    story = _released()
    story.started()
    return story


def _autologous_mismatch() -> Timeline:
    story = Timeline()
    story.collected(donation_type="AUTOLOGOUS", intended="P000009")
    story.produced()
    story.released()
    story.crossmatched()
    story.started()
    return story


def _double_use() -> Timeline:
    story = _transfused()
    story.crossmatched(hour=30, patient="P000002")
    story.started(hour=31, patient="P000002")
    return story


def _cold_chain() -> Timeline:
    story = _in_transit()
    story.received(ok=False)
    story.crossmatched()
    story.started()
    return story


def _no_bedside_check() -> Timeline:
    story = _released()
    story.crossmatched()
    story.started(bedside=False)
    return story


def _started_after_stop() -> Timeline:
    story = _released()
    story.crossmatched()
    story.checked(hour=22, decision="STOP", reasons=("NOT_RECEIVED_HERE",))
    story.started(hour=22)  # the same instant, recorded after the check: after it
    return story


def _unexpected_sequence() -> Timeline:
    story = _released()
    story.issued(to="S3103")
    story.received(at_facility=HOSPITAL)
    return story


#: One story per safety flag, raising exactly that flag.
FLAG_STORIES: dict[Flag, Callable[[], Timeline]] = {
    Flag.REACTIVE_DONATION: _reactive,
    Flag.UNRELEASED_USE: _unreleased_use,
    Flag.EXPIRED_USE: _expired_use,
    Flag.ABO_INCOMPATIBLE: lambda: _use_with(abo="O"),
    Flag.ABO_OUT_OF_GROUP: _out_of_group_platelets,
    Flag.RHD_INCOMPATIBLE: lambda: _use_with(rhd="NEG"),
    Flag.NO_VALID_CROSSMATCH: _no_valid_crossmatch,
    Flag.AUTOLOGOUS_MISMATCH: _autologous_mismatch,
    Flag.DOUBLE_USE: _double_use,
    Flag.COLD_CHAIN: _cold_chain,
    Flag.NO_BEDSIDE_CHECK: _no_bedside_check,
    Flag.UNEXPECTED_SEQUENCE: _unexpected_sequence,
    Flag.STARTED_AFTER_STOP: _started_after_stop,
}


def test_every_flag_of_the_contract_has_a_story() -> None:
    assert set(FLAG_STORIES) == set(Flag)


@pytest.mark.parametrize("flag", list(Flag))
def test_each_story_raises_exactly_its_flag_with_the_fact_that_showed_it(flag: Flag) -> None:
    story = FLAG_STORIES[flag]()
    state = state_of(story)
    assert state.flags == (flag,)
    shown_by = {f.event_id for f in story.facts}
    assert state.findings and all(f.event_id in shown_by for f in state.findings)


def _issued_before_produced() -> Timeline:
    story = Timeline()
    story.issued()
    return story


def _issued_in_quarantine() -> Timeline:
    story = _quarantined()
    story.issued(hour=8)
    return story


def _produced_twice() -> Timeline:
    story = _produced()
    story.produced(hour=3)
    return story


def _crossmatched_before_produced() -> Timeline:
    story = Timeline()
    story.crossmatched(hour=1)
    story.produced()
    return story


def _completed_never_started() -> Timeline:
    story = _released()
    story.completed()
    return story


#: Stories whose findings, with the flags' own, say every detail there is.
DETAIL_STORIES: tuple[Callable[[], Timeline], ...] = (
    *FLAG_STORIES.values(),
    _issued_before_produced,
    _issued_in_quarantine,
    _produced_twice,
    _crossmatched_before_produced,
    _completed_never_started,
)


def test_every_detail_is_said_by_some_story_with_a_code_of_its_own() -> None:
    said = {f.said.code for story in DETAIL_STORIES for f in state_of(story()).findings}
    assert said == set(DetailCode)


@pytest.mark.parametrize(
    ("story", "detail", "code", "fields"),
    [
        (
            lambda: _use_with(abo="O"),
            "RED_CELLS A to a group O patient",
            DetailCode.ABO_MISMATCH,
            {"component": "RED_CELLS", "abo": "A", "patient_abo": "O"},
        ),
        (
            lambda: _use_with(rhd="NEG"),
            "RhD POS red cells to an RhD NEG patient",
            DetailCode.RHD_MISMATCH,
            {"rhd": "POS", "patient_rhd": "NEG"},
        ),
        (_unreleased_use, "issue while not released", DetailCode.USED_UNRELEASED,
         {"action": "issue"}),
        (_reactive, "HIV_NAT reactive", DetailCode.REACTIVE_TEST, {"test": "HIV_NAT"}),
        (_no_bedside_check, "bedside check not passed", DetailCode.BEDSIDE_CHECK_NOT_PASSED, {}),
    ],
)  # fmt: skip
def test_a_detail_keeps_its_english_and_names_its_values(
    story: Callable[[], Timeline], detail: str, code: DetailCode, fields: dict[str, str]
) -> None:
    finding = state_of(story()).findings[0]
    assert (finding.detail, finding.said.code, finding.said.values()) == (detail, code, fields)


def test_every_fact_class_has_a_transition() -> None:
    story = _double_use()
    story.evaluated(hour=48)
    story.fact("AdverseReactionReported", 26, RBC, HOSPITAL, patient_id="P000001",
               category="FNHTR", severity="NON_SEVERE", imputability="PROBABLE",
               onset_at=at(24))  # fmt: skip
    story.returned(hour=50, minutes=5)
    story.tested(hour=1)
    story.collected(hour=0)
    story.quarantined(hour=60)
    story.discarded(hour=61)
    story.checked(hour=62)
    story.acknowledged("notice-1", hour=63)
    assert {f.event_type for f in story.facts} == set(EventType)
    assert state_of(story).status == Status.DISCARDED


def test_acknowledgements_are_kept_per_notice_and_change_no_status() -> None:
    story = _quarantined()
    before = state_of(story)
    story.acknowledged("notice-2", hour=31, action="NOT_FOUND", facility="S3103")
    story.acknowledged("notice-1", hour=30, action="QUARANTINED")
    story.acknowledged("notice-1", hour=40, action="DISCARDED")
    state = state_of(story)
    assert (state.status, state.flags) == (before.status, before.flags)
    assert [(a.notice_id, a.action_taken) for a in state.acknowledgements] == [
        ("notice-1", "QUARANTINED"), ("notice-2", "NOT_FOUND"), ("notice-1", "DISCARDED"),
    ]  # fmt: skip
    first, then = state.acknowledgements_of("notice-1")
    assert (first.occurred_at, first.facility, then.occurred_at) == (at(30), HOSPITAL, at(40))
    assert state.acknowledgements_of("notice-2")[0].facility == "S3103"
    assert state.acknowledgements_of("notice-3") == ()
    assert state_of(story, as_of=at(35)).acknowledgements_of("notice-1") == (first,)


def test_facts_at_the_same_instant_are_applied_in_recording_order() -> None:
    story = _released()
    story.quarantined(hour=7)
    story.released(hour=7)  # the same instant: recorded after, so it lifts the quarantine
    assert state_of(story).status == Status.AVAILABLE
    reverse = _released()
    reverse.released(hour=7)
    reverse.quarantined(hour=7)
    assert state_of(reverse).status == Status.QUARANTINED


STORY = two_units_story()


@settings(max_examples=100, deadline=None)
@given(arrival=st.permutations(STORY), code=st.sampled_from([RBC, PLASMA]))
def test_the_order_facts_arrive_in_does_not_matter(arrival: list[ReportedFact], code: str) -> None:
    din = STORY[0].din
    assert evaluate(din, code, stored(arrival)) == evaluate(din, code, stored(STORY))


@settings(max_examples=60, deadline=None)
@given(
    chosen=st.lists(st.sampled_from(range(len(STORY))), unique=True),
    code=st.sampled_from([RBC, PLASMA]),
)
def test_the_timeline_is_the_state_as_of_each_moment(chosen: list[int], code: str) -> None:
    facts = stored([STORY[i] for i in chosen])
    states = timeline(STORY[0].din, code, facts)
    assert [moment for moment, _ in states] == sorted({f.occurred_at for f in facts})
    for moment, state in states:
        assert evaluate(STORY[0].din, code, facts, as_of=moment) == state


def test_as_of_ignores_facts_that_had_not_occurred() -> None:
    story = _transfused()
    assert state_of(story, as_of=at(9)).status == Status.IN_TRANSIT
    assert state_of(story, as_of=at(22.5)).status == Status.DISPENSED
    assert state_of(story, as_of=at(1)).status == Status.NOT_PRODUCED
