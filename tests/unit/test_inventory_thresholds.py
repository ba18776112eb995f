"""Alert levels per component, on days of supply worked out by hand.

Platelets keep 5 days, so they are judged by thresholds of their own (hospital
1.5/1/0.5 days, centre 2); every other component by the defaults (3/2/1, centre 5),
which ``--yellow``/``--orange``/``--red``/``--centre-emergency`` set.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.inventory import (
    COMPONENT_THRESHOLDS,
    AlertLevel,
    AlertPolicy,
    Thresholds,
    daily_use,
    days_of_supply,
)
from ledger.domain.supply import ShelfSpell, Use, supply_series
from ledger.entrypoints.arguments import component_thresholds
from ledger.entrypoints.cli import build_parser
from ledger.entrypoints.commands import _policy
from ledger.services.quality import InventoryReport, ReportWindow

POLICY = AlertPolicy()


def _level(available: int, used: int, component: str, *, centre: bool) -> AlertLevel:
    dos = days_of_supply(available, daily_use(used, POLICY.window_days))
    return POLICY.level(dos, component=component, centre=centre)


def test_the_same_stock_is_judged_by_its_components_thresholds() -> None:
    # A hospital: 3 units, 35 used in 14 days -> 2.5 a day -> 1.2 days of supply.
    assert days_of_supply(3, daily_use(35, 14)) == pytest.approx(1.2)
    assert _level(3, 35, "PLATELETS", centre=False) == AlertLevel.YELLOW  # below 1.5, not 1
    assert _level(3, 35, "RED_CELLS", centre=False) == AlertLevel.ORANGE  # below 2, not 1
    # 2 units, 35 used -> 0.8 days: platelets orange (below 1), red cells red (below 1).
    assert _level(2, 35, "PLATELETS", centre=False) == AlertLevel.ORANGE
    assert _level(2, 35, "RED_CELLS", centre=False) == AlertLevel.RED
    # 1 unit, 35 used -> 0.4 days: red for both (platelets below 0.5).
    assert _level(1, 35, "PLATELETS", centre=False) == AlertLevel.RED
    # 6 units, 35 used -> 2.4 days: platelets green, red cells yellow (below 3).
    assert _level(6, 35, "PLATELETS", centre=False) == AlertLevel.GREEN
    assert _level(6, 35, "RED_CELLS", centre=False) == AlertLevel.YELLOW
    assert _level(6, 35, "PLASMA", centre=False) == AlertLevel.YELLOW
    assert _level(6, 35, "CRYO", centre=False) == AlertLevel.YELLOW


def test_a_centre_holding_days_of_platelets_is_not_in_emergency() -> None:
    # 12 units, 70 issued in 14 days -> 5 a day -> 2.4 days: above the platelets' 2.
    assert days_of_supply(12, daily_use(70, 14)) == pytest.approx(2.4)
    assert _level(12, 70, "PLATELETS", centre=True) == AlertLevel.GREEN
    assert _level(12, 70, "RED_CELLS", centre=True) == AlertLevel.EMERGENCY  # below 5
    # 9 units -> 1.8 days: below 2, the platelets' emergency too.
    assert _level(9, 70, "PLATELETS", centre=True) == AlertLevel.EMERGENCY
    # exactly at a threshold is not below it: 10 units -> 2.0 days.
    assert _level(10, 70, "PLATELETS", centre=True) == AlertLevel.GREEN


def test_no_recent_use_is_green_whatever_the_component() -> None:
    for component in ("PLATELETS", "RED_CELLS", None):
        for centre in (True, False):
            assert POLICY.level(None, component=component, centre=centre) == AlertLevel.GREEN


def test_the_defaults_judge_every_component_without_its_own() -> None:
    policy = AlertPolicy(hospital_yellow_days=4, hospital_orange_days=3, hospital_red_days=2)
    # 3.5 days: below 4, not below 3 -- red cells, whole blood, an unknown component.
    for component in ("RED_CELLS", "WHOLE_BLOOD", None, "?"):
        assert policy.level(3.5, component=component, centre=False) == AlertLevel.YELLOW
    # 2.5 days: below 3, orange, for those; platelets keep their own: green above 1.5.
    assert policy.level(2.5, component="RED_CELLS", centre=False) == AlertLevel.ORANGE
    assert policy.level(2.5, component="PLATELETS", centre=False) == AlertLevel.GREEN
    assert policy.thresholds("RED_CELLS") == Thresholds(4, 3, 2, 5)
    assert dict(COMPONENT_THRESHOLDS)["PLATELETS"] == Thresholds(1.5, 1.0, 0.5, 2.0)


def test_a_component_can_be_given_thresholds_and_the_last_given_wins() -> None:
    policy = POLICY.overriding(
        [("PLASMA", Thresholds(5, 4, 3, 7)), ("PLATELETS", Thresholds(2, 1, 0.5, 3))]
    )
    assert policy.level(3.5, component="PLASMA", centre=False) == AlertLevel.ORANGE
    assert policy.level(2.5, component="PLATELETS", centre=True) == AlertLevel.EMERGENCY
    assert policy.level(3.5, component="RED_CELLS", centre=False) == AlertLevel.GREEN
    again = policy.overriding([("PLATELETS", Thresholds(1.5, 1, 0.5, 2))])
    assert again.thresholds("PLATELETS") == Thresholds(1.5, 1, 0.5, 2)
    assert again.thresholds("PLASMA") == Thresholds(5, 4, 3, 7)
    uniform = AlertPolicy(components=())
    assert uniform.level(2.5, component="PLATELETS", centre=True) == AlertLevel.EMERGENCY


def test_the_thresholds_shown_are_those_of_the_facilitys_kind() -> None:
    platelets = POLICY.thresholds("PLATELETS")
    assert platelets.to_json(centre=False) == {"yellow": 1.5, "orange": 1.0, "red": 0.5}
    assert platelets.to_json(centre=True) == {"emergency": 2.0}
    assert POLICY.thresholds("RED_CELLS").to_json(centre=True) == {"emergency": 5.0}


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ((1, 2, 0.5, 2), "red <= orange <= yellow"),
        ((1.5, 1, 0.5, -1), "0 or more"),
        ((float("nan"), 1, 0.5, 2), "0 or more"),
    ],
)
def test_thresholds_out_of_order_or_negative_are_refused(
    values: tuple[float, float, float, float], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        Thresholds(*values)


def test_a_component_given_twice_in_one_policy_is_refused() -> None:
    twice = (("PLASMA", Thresholds(3, 2, 1, 5)), ("PLASMA", Thresholds(4, 2, 1, 5)))
    with pytest.raises(ValueError, match="one set of thresholds"):
        AlertPolicy(components=twice)


# -- the command line --------------------------------------------------------------------


def test_the_command_line_gives_a_component_its_thresholds() -> None:
    assert component_thresholds("platelets=2,1.5,0.5,3") == (
        "PLATELETS",
        Thresholds(2, 1.5, 0.5, 3),
    )
    args = build_parser().parse_args(
        ["inventory", "--yellow", "4", "--component-threshold", "CRYO=6,5,4,8"]
    )
    policy = _policy(args)
    assert policy.thresholds("RED_CELLS") == Thresholds(4, 2, 1, 5)  # the flags: defaults
    assert policy.thresholds("CRYO") == Thresholds(6, 5, 4, 8)
    assert policy.thresholds("PLATELETS") == dict(COMPONENT_THRESHOLDS)["PLATELETS"]
    # the server judges its dashboard and API by the same arguments
    served = _policy(build_parser().parse_args(["serve", *args_of("PLATELETS=2,1,0.5,3")]))
    assert served.thresholds("PLATELETS") == Thresholds(2, 1, 0.5, 3)


def args_of(*thresholds: str) -> list[str]:
    return [arg for given in thresholds for arg in ("--component-threshold", given)]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("PLATELET=1.5,1,0.5,2", "not a component: 'PLATELET'"),
        ("PLATELETS=1.5,1,0.5", "is not COMPONENT=YELLOW,ORANGE,RED,EMERGENCY"),
        ("PLATELETS=a,b,c,d", "is not COMPONENT=YELLOW,ORANGE,RED,EMERGENCY"),
        ("PLATELETS", "is not COMPONENT=YELLOW,ORANGE,RED,EMERGENCY"),
        ("PLATELETS=0.5,1,1.5,2", "red <= orange <= yellow"),
    ],
)
def test_a_bad_component_threshold_is_refused_with_why(text: str, why: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=why):
        component_thresholds(text)


# -- over time: the report's days of supply --------------------------------------------

SEP_1 = datetime(2026, 9, 1, tzinfo=UTC)


def test_a_series_judges_each_group_by_its_components_thresholds() -> None:
    """Two platelet and two red-cell units on the shelf from 1 September, three of
    each used on the 2nd; sampled on the 3rd with a 2-day window: 1.5 a day, 2 units
    -> 1.33 days: platelets yellow (below 1.5, not 1), red cells orange (below 2)."""
    policy = AlertPolicy(window_days=2)
    spells = [
        ShelfSpell(component, "O", "POS", SEP_1, None, None)
        for component in ("PLATELETS", "RED_CELLS")
        for _ in range(2)
    ]
    uses = [
        Use(component, "O", "POS", SEP_1 + timedelta(days=1, hours=hour))
        for component in ("PLATELETS", "RED_CELLS")
        for hour in (1, 2, 3)
    ]
    moment = SEP_1 + timedelta(days=2)
    series = supply_series(spells, uses, [moment], policy, centre=False)
    [platelets] = series[("PLATELETS", "O", "POS")]
    [red_cells] = series[("RED_CELLS", "O", "POS")]
    assert platelets.days_of_supply == red_cells.days_of_supply == pytest.approx(4 / 3)
    assert platelets.alert == AlertLevel.YELLOW  # 1.33 < 1.5, not < 1
    assert red_cells.alert == AlertLevel.ORANGE  # 1.33 < 2, not < 1
    window = ReportWindow("S3102", SEP_1, moment)
    report = InventoryReport(window, policy, timedelta(days=1), centre=False, series=series)
    thresholds = report.to_json()["thresholds"]
    assert thresholds["below"] == {"YELLOW": 3.0, "ORANGE": 2.0, "RED": 1.0}
    assert thresholds["by_component"] == {
        "PLATELETS": {"YELLOW": 1.5, "ORANGE": 1.0, "RED": 0.5},
        "RED_CELLS": {"YELLOW": 3.0, "ORANGE": 2.0, "RED": 1.0},
    }
