"""Recall notices derived from a unit's facts: who must act, and how, for every place a
unit can be when the ledger quarantines it (:mod:`ledger.domain.notice`, pure)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from ledger.domain.facts import ReportedFact
from ledger.domain.lookback import automatic_case_id
from ledger.domain.notice import RecallNotice, notice_id, recall_notices
from tests.builders import CENTRE, HOSPITAL, RBC, Timeline, at
from tests.domain_ledger import DomainLedger
from tests.notice_story import ISSUED_AT, recall_story


def notices_of(facts: Sequence[ReportedFact], *dins: str) -> list[RecallNotice]:
    ledger = DomainLedger()
    ledger.record(list(facts))
    return [n for d in dins for unit in ledger.units_of(d) for n in recall_notices(unit)]


def summary(notices: Sequence[RecallNotice]) -> set[tuple[str, str, str, str, str | None]]:
    return {(n.din, n.product_code, n.facility, n.action, n.patient_id) for n in notices}


def test_the_multi_hospital_case_tells_each_holder_of_a_unit_what_to_do() -> None:
    story = recall_story()
    notices = notices_of(
        [*story.facts, *story.case_quarantines()], story.earlier.din, story.reactive.din
    )
    assert summary(notices) == story.expected()  # none for the unit discarded before
    assert {n.case_id for n in notices} == {story.case_id}
    assert {n.issued_at for n in notices} == {ISSUED_AT}  # the result's moment
    assert len({n.notice_id for n in notices}) == len(notices)
    reasons = {n.din: n.reason for n in notices}
    assert reasons[story.reactive.din] == "REACTIVE_DONATION: HIV_NAT"
    assert reasons[story.earlier.din] == f"LOOKBACK {story.case_id}: HIV_NAT reactive on donation"


def test_a_reactive_donation_notifies_for_its_units_before_any_case_is_recorded() -> None:
    """Its own quarantine belongs to the case it opens: the case's quarantine later gives
    the same notice, not a second one."""
    story = recall_story()
    alone = notices_of(story.facts, story.earlier.din, story.reactive.din)
    assert summary(alone) == {n for n in story.expected() if n[0] == story.reactive.din}
    with_case = notices_of([*story.facts, *story.case_quarantines()], story.reactive.din)
    assert alone == with_case


def test_the_notices_are_a_function_of_the_facts_not_of_their_arrival() -> None:
    story = recall_story()
    facts = [*story.facts, *story.case_quarantines()]
    dins = (story.earlier.din, story.reactive.din)
    first = sorted(notices_of(facts, *dins), key=lambda n: n.notice_id)
    for seed in range(5):
        shuffled = list(facts)
        random.Random(seed).shuffle(shuffled)
        assert sorted(notices_of(shuffled, *dins), key=lambda n: n.notice_id) == first


def _reactive_at(hour: float, *steps: str) -> Timeline:
    """A unit taken through ``steps`` (the builder's methods, at their default hours),
    then its donation's HIV NAT REACTIVE at ``hour``."""
    timeline = Timeline()
    timeline.collected()
    for step in steps:
        getattr(timeline, step)()
    timeline.tested(hour=hour, test="HIV_NAT", result="REACTIVE")
    return timeline


WHERE = [
    ("at the centre", ("produced", "released"), 7, (CENTRE, "QUARANTINE", None)),
    ("in transit", ("produced", "released", "issued"), 9, (HOSPITAL, "QUARANTINE", None)),
    (
        "in stock at a hospital",
        ("produced", "released", "issued", "received"),
        12,
        (HOSPITAL, "QUARANTINE", None),
    ),
    (
        "at a ward",
        ("produced", "released", "issued", "received", "crossmatched", "dispensed"),
        22.5,
        (HOSPITAL, "QUARANTINE", None),
    ),
    (
        "being transfused",
        ("produced", "released", "issued", "received", "crossmatched", "dispensed", "started"),
        24,
        (HOSPITAL, "NOTIFY_RECIPIENT", "P000001"),
    ),
    (
        "transfused",
        ("produced", "released", "issued", "received", "crossmatched", "dispensed", "started",
         "completed"),
        30,
        (HOSPITAL, "NOTIFY_RECIPIENT", "P000001"),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("where", "steps", "hour", "expected"), WHERE, ids=[w[0] for w in WHERE])
def test_where_the_unit_is_at_the_quarantine_says_who_acts(
    where: str, steps: tuple[str, ...], hour: float, expected: tuple[str, str, str | None]
) -> None:
    timeline = _reactive_at(hour, *steps)
    [notice] = notices_of(timeline.facts, timeline.din)
    assert (notice.facility, notice.action, notice.patient_id) == expected
    assert notice.issued_at == at(hour)
    assert notice.case_id == automatic_case_id(timeline.din)


def test_a_unit_not_yet_produced_is_the_collecting_centres_to_hold() -> None:
    timeline = _reactive_at(1)
    timeline.produced(hour=2)
    [notice] = notices_of(timeline.facts, timeline.din)
    assert (notice.facility, notice.action) == (CENTRE, "QUARANTINE")


def test_a_unit_discarded_before_the_result_gives_no_notice() -> None:
    timeline = _reactive_at(8, "produced", "released")
    timeline.discarded(hour=7)
    assert notices_of(timeline.facts, timeline.din) == []


def test_a_unit_discarded_after_the_result_was_where_it_was_at_its_moment() -> None:
    timeline = _reactive_at(12, "produced", "released", "issued", "received")
    timeline.discarded(hour=13)
    [notice] = notices_of(timeline.facts, timeline.din)
    assert (notice.facility, notice.action) == (HOSPITAL, "QUARANTINE")


def test_a_transfused_unit_whose_bag_was_discarded_still_has_a_recipient_to_notify() -> None:
    steps = ("produced", "released", "issued", "received", "crossmatched", "dispensed")
    timeline = _reactive_at(30, *steps, "started", "completed")
    timeline.discarded(hour=26, reason="OTHER")
    [notice] = notices_of(timeline.facts, timeline.din)
    assert (notice.action, notice.patient_id) == ("NOTIFY_RECIPIENT", "P000001")


def test_two_reactive_results_give_one_notice_the_earliest_whatever_arrives_first() -> None:
    timeline = _reactive_at(30, "produced", "released")
    timeline.tested(hour=28, test="HBSAG", result="REACTIVE")
    for facts in (timeline.facts, list(reversed(timeline.facts))):
        [notice] = notices_of(facts, timeline.din)
        assert (notice.issued_at, notice.reason) == (at(28), "REACTIVE_DONATION: HBSAG")


def test_a_quarantine_an_integrator_reported_gives_no_notice() -> None:
    timeline = Timeline()
    timeline.produced()
    timeline.quarantined(hour=5, reason="pending investigation")
    assert notices_of(timeline.facts, timeline.din) == []


def test_a_notice_id_is_derived_from_its_case_and_unit_and_never_changes() -> None:
    assert notice_id("LB-AUTO-S310126000001", "S310126000001", RBC) == (
        "3b60442e-71f9-5847-a919-a75fc8694234"
    )
    assert notice_id("LB-1", "S310126000001", RBC) != notice_id("LB-2", "S310126000001", RBC)
    assert notice_id("LB-1", "S310126000001", RBC) != notice_id("LB-1", "S310126000002", RBC)
