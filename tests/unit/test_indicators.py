"""The quality-control indicators on a ward's month written out by hand.

Every expected number below is counted from the records as written in
:func:`tests.ward_story.september`, by hand, in the comment next to it — never by calling the
code under test.
"""

from __future__ import annotations

import pytest

from ledger.domain.indicators import (
    Indicator,
    Measure,
    MissingData,
    Status,
    component_transfusion_rate,
    effective_rate,
    evaluation_rate,
    quality_indicators,
    reactions_per_thousand_episodes,
    staff_per_thousand_units,
    surgical_autologous_rate,
)
from ledger.domain.transfusion import episodes, first_starts, reaction_cases
from tests.ward_story import at, hung, september


def test_a_unit_counts_once_at_its_first_start() -> None:
    transfusions, _, _ = september()
    used = first_starts(transfusions)
    assert [t.unit_id for t in used] == [
        "u1-rbc", "u1-ffp", "u2-wb", "u3-rbc", "u3-plt", "u4-rbc", "u7-cryo",
    ]  # fmt: skip
    assert next(t for t in used if t.unit_id == "u4-rbc").started_at == at(9, 16)


def test_an_episode_is_a_patient_on_a_day() -> None:
    transfusions, _, _ = september()
    assert episodes(first_starts(transfusions)) == {
        ("P1", at(2, 0).date()),
        ("P2", at(3, 0).date()),
        ("P3", at(5, 0).date()),
        ("P4", at(9, 0).date()),
        ("P1", at(11, 0).date()),
    }


def test_a_reaction_reported_against_two_units_is_one_case_at_its_first_report() -> None:
    _, reactions, _ = september()
    assert [r.event_id for r in reaction_cases(reactions)] == ["r1", "r2", "r4"]


def test_reactions_per_thousand_episodes() -> None:
    transfusions, reactions, _ = september()
    indicator = reactions_per_thousand_episodes(reactions, transfusions)
    assert (indicator.number, indicator.status) == (6, Status.COMPUTED)
    assert indicator.numerator == 3  # r1, r2 (with r2b), r4
    assert indicator.denominator == 5  # P1 on the 2nd, P2, P3, P4, P1 on the 11th
    assert indicator.value == pytest.approx(600.0)  # 3 / 5 x 1000


def test_surgical_autologous_rate_over_red_cells_and_whole_blood() -> None:
    transfusions, _, _ = september()
    indicator = surgical_autologous_rate(transfusions)
    assert (indicator.number, indicator.status) == (9, Status.APPROXIMATE)
    assert indicator.numerator == 2.0  # u2-wb
    assert indicator.denominator == 7.5  # u1-rbc 2 + u2-wb 2 + u3-rbc 1.5 + u4-rbc 2 (once)
    assert indicator.value == pytest.approx(200 / 7.5)
    assert indicator.missing == (
        MissingData.SURGICAL_PATIENTS,
        MissingData.UNLABELLED_AUTOLOGOUS,
    )


def test_component_transfusion_rate_and_the_shares() -> None:
    transfusions, _, _ = september()
    indicator = component_transfusion_rate(transfusions)
    assert indicator.numerator == 8.5  # red cells 2 + 1.5 + 2, plasma 1, platelets 1, cryo 1
    assert indicator.denominator == 10.5  # and whole blood 2
    assert indicator.value == pytest.approx(850 / 10.5)
    assert indicator.parts == pytest.approx(
        {
            "RED_CELLS": 550 / 8.5,
            "PLASMA": 100 / 8.5,
            "PLATELETS": 100 / 8.5,
            "CRYO": 100 / 8.5,
        }
    )


def test_evaluation_rates_count_the_same_unit_and_patient_after_the_start() -> None:
    transfusions, _, evaluations = september()
    evaluated = evaluation_rate(transfusions, evaluations)
    assert evaluated.numerator == 3  # u1-rbc, u2-wb, u4-rbc (not u3-rbc: P9; not u7: early)
    assert evaluated.denominator == 7
    assert evaluated.value == pytest.approx(300 / 7)
    effective = effective_rate(transfusions, evaluations)
    assert effective.numerator == 2  # u1-rbc; u4-rbc by its last evaluation
    assert effective.denominator == 3
    assert effective.value == pytest.approx(200 / 3)


def test_staff_per_thousand_units_has_its_denominator_only() -> None:
    transfusions, _, _ = september()
    indicator = staff_per_thousand_units(transfusions)
    assert indicator.status == Status.PART
    assert indicator.numerator is None
    assert indicator.denominator == 8.5  # whole blood 2, red cells 5.5, plasma 1
    assert indicator.value is None
    assert indicator.missing == (MissingData.STAFF,)


def test_a_unit_whose_component_the_ledger_never_learned_counts_in_no_rate() -> None:
    unknown = [hung("u9", "P9", at(1, 1), None, 0.0)]
    assert component_transfusion_rate(unknown).denominator == 0
    assert component_transfusion_rate(unknown).value is None
    assert surgical_autologous_rate(unknown).value is None


def test_nothing_transfused_gives_no_values_rather_than_zero() -> None:
    for indicator in quality_indicators([], [], []):
        assert indicator.value is None, indicator.key


def test_every_2019_indicator_is_listed_in_order_and_says_what_it_lacks() -> None:
    transfusions, reactions, evaluations = september()
    listed = quality_indicators(transfusions, reactions, evaluations)
    assert [i.number for i in listed[:10]] == list(range(1, 11))
    assert [i.key for i in listed[10:]] == [
        "component_transfusion_rate",
        "evaluation_rate",
        "effective_rate",
    ]
    lacking = {i.number: i for i in listed if i.status == Status.NOT_COMPUTABLE}
    assert set(lacking) == {2, 3, 4, 5, 7, 8, 10}
    for indicator in lacking.values():
        assert indicator.missing
        assert (indicator.numerator, indicator.denominator, indicator.value) == (None,) * 3
    assert lacking[7].missing == lacking[8].missing == (MissingData.SURGERY,)
    assert lacking[10].missing == (MissingData.DISCHARGES,)


def test_the_document_form_rounds_to_two_decimals() -> None:
    indicator = Indicator(
        key="evaluation_rate",
        source=evaluation_rate([], []).source,
        number=None,
        measure=Measure.PERCENT,
        status=Status.COMPUTED,
        numerator=2,
        denominator=3,
    )
    assert indicator.to_json()["value"] == 66.67
