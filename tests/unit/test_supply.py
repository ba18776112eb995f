"""Days of supply over time, on shelf spells and uses written out by hand.

Three O RhD+ red-cell units reach the shelf on 1 September at 10:00; one is taken
for a patient on the 2nd at 13:00 and hung at 14:00, another taken on the 3rd at
00:30 and hung at 01:00; the third expires on the 4th at 12:00. An A RhD- plasma
unit arrives with them and is never used. Daily use is averaged over 2 days; the
hospital's thresholds are yellow 3, orange 2, red 1 days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.inventory import AlertLevel, AlertPolicy
from ledger.domain.supply import ShelfSpell, Use, instants, supply_series, time_in_alert

SEP_1 = datetime(2026, 9, 1, tzinfo=UTC)
POLICY = AlertPolicy(window_days=2)


def at(day: int, hour: float = 0) -> datetime:
    return SEP_1 + timedelta(days=day - 1, hours=hour)


SPELLS = [
    ShelfSpell("RED_CELLS", "O", "POS", at(1, 10), at(2, 13), at(30)),
    ShelfSpell("RED_CELLS", "O", "POS", at(1, 10), at(3, 0.5), at(30)),
    ShelfSpell("RED_CELLS", "O", "POS", at(1, 10), None, at(4, 12)),
    ShelfSpell("PLASMA", "A", "NEG", at(1, 10), None, at(300)),
]
USES = [
    Use("RED_CELLS", "O", "POS", at(2, 14)),
    Use("RED_CELLS", "O", "POS", at(3, 1)),
]
DAYS = instants(at(1), at(5))  # midnight of the 1st ... of the 5th


def test_each_sample_is_stock_over_the_trailing_daily_use() -> None:
    series = supply_series(SPELLS, USES, DAYS, POLICY, centre=False)
    red = series[("RED_CELLS", "O", "POS")]
    assert [p.at for p in red] == [at(1), at(2), at(3), at(4), at(5)]
    # 1st 00:00: nothing yet. 2nd: three on the shelf, nothing used in the 2 days before.
    # 3rd: two left (one taken on the 2nd); one use in (1st, 3rd] -> 0.5 a day -> 4 days.
    # 4th: one left; two uses in (2nd, 4th] -> 1 a day -> 1 day: below orange (2), not red.
    # 5th: the last expired on the 4th at noon; one use in (3rd, 5th] -> 0 days: red.
    assert [p.available for p in red] == [0, 3, 2, 1, 0]
    assert [p.daily_use for p in red] == [0.0, 0.0, 0.5, 1.0, 0.5]
    assert [p.days_of_supply for p in red] == [None, None, 4.0, 1.0, 0.0]
    assert [p.alert for p in red] == [
        AlertLevel.GREEN,
        AlertLevel.GREEN,
        AlertLevel.GREEN,
        AlertLevel.ORANGE,
        AlertLevel.RED,
    ]
    assert time_in_alert(red) == {
        "GREEN": 3,
        "YELLOW": 0,
        "ORANGE": 1,
        "RED": 1,
        "EMERGENCY": 0,
    }


def test_a_group_never_used_has_stock_and_no_days_of_supply() -> None:
    plasma = supply_series(SPELLS, USES, DAYS, POLICY, centre=False)[("PLASMA", "A", "NEG")]
    assert [p.available for p in plasma] == [0, 1, 1, 1, 1]
    assert {p.days_of_supply for p in plasma} == {None}


def test_groups_come_in_component_then_abo_then_rhd_order() -> None:
    spells = [
        ShelfSpell(component, abo, rhd, at(1), None, None)
        for component, abo, rhd in [
            ("PLASMA", "O", "POS"),
            ("RED_CELLS", "AB", "NEG"),
            ("RED_CELLS", "O", "NEG"),
            ("RED_CELLS", "O", "POS"),
            (None, None, None),
        ]
    ]
    series = supply_series(spells, [], [at(2)], POLICY, centre=False)
    assert list(series) == [
        ("RED_CELLS", "O", "POS"),
        ("RED_CELLS", "O", "NEG"),
        ("RED_CELLS", "AB", "NEG"),
        ("PLASMA", "O", "POS"),
        ("?", "?", "?"),
    ]


def test_a_unit_expired_before_it_reached_the_shelf_is_never_stock() -> None:
    spells = [ShelfSpell("RED_CELLS", "O", "POS", at(3), None, at(2))]
    series = supply_series(spells, [], DAYS, POLICY, centre=False)
    assert [p.available for p in series[("RED_CELLS", "O", "POS")]] == [0, 0, 0, 0, 0]


def test_a_blood_centre_has_one_threshold_its_emergency() -> None:
    uses = [Use("RED_CELLS", "O", "POS", at(1, 12 + n)) for n in range(8)]  # 8 in a day
    spells = [ShelfSpell("RED_CELLS", "O", "POS", at(1), None, None) for _ in range(12)]
    [points] = supply_series(spells, uses, [at(2)], POLICY, centre=True).values()
    assert points[0].days_of_supply == pytest.approx(3.0)  # 12 / (8 / 2 days)
    assert points[0].alert == AlertLevel.EMERGENCY  # below 5 days


def test_sampling_needs_a_positive_step() -> None:
    assert instants(at(1), at(1, 12), timedelta(hours=6)) == [
        at(1), at(1, 6), at(1, 12),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="positive"):
        instants(at(1), at(2), timedelta(0))
