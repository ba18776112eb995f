"""The demo's region, as the ledger sees it at the end of the period: what a user of the
dashboard, the unit pages and the reports meets.

The preset's stream is recorded into SQLite in publication order and projected (the
ledger's automatic lookbacks run at the end of the log). Then, at the end of the period,
the inventory looks like a real region (issue 14): every hospital holds red cells of
every RhD-positive group, with platelets and plasma; most stock groups are green, a few
are not; the centre holds its reserve of red cells and plasma above the 5-day emergency
line. There are reactions, late arrivals, lookback cases — the planted recall's among
them, with its notices to three hospitals — and no flag but the planted ones.

Two kinds of row are left out of the shares, for what they are: autologous whole blood
is reserved for its own patient, so its "days of supply" say nothing of a shortage; and
RhD-negative groups, 0.4 % of donors and patients, are the rare exception that a
dashboard shows short.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.inventory import AlertLevel, AlertPolicy
from ledger.domain.vocabulary import EventType
from projections.queries import InventoryRow, inventory
from simulator import REGION_CONFIG, DemoStream, PlantedRecall, generate

T = TypeVar("T")
POLICY = AlertPolicy()
COMMON_GROUPS = ("A", "B", "O", "AB")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    return (items[start : start + size] for start in range(0, len(items), size))


@dataclass(frozen=True)
class Region:
    stream: DemoStream
    models: ReadModels

    @property
    def recall(self) -> PlantedRecall:
        assert self.stream.recall is not None
        return self.stream.recall

    def inventory(self) -> list[InventoryRow]:
        """Every stock group at the end of the period."""
        return inventory(self.models.view, self.stream.end, POLICY)

    def hospital_rows(self) -> list[InventoryRow]:
        return [r for r in self.inventory() if not r.centre]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    stream = generate(REGION_CONFIG)
    path: Path = tmp_path_factory.mktemp("region") / "ledger.db"
    models = open_read_models_of(store_for(f"sqlite:///{path}"))
    for batch in chunks(stream.facts, 5000):
        models.ledger.record(batch)
    models.projector.catch_up()
    yield Region(stream, models)
    models.close()


def stocked(row: InventoryRow) -> bool:
    """A row that says something about shortage: allogeneic and RhD-positive."""
    return row.component != "WHOLE_BLOOD" and row.rhd == "POS"


def test_every_hospital_holds_red_cells_of_every_group_with_platelets_and_plasma(
    region: Region,
) -> None:
    rows = region.hospital_rows()
    for hospital in region.stream.hospitals:
        mine = [r for r in rows if r.facility == hospital and r.rhd == "POS"]
        red = {r.abo for r in mine if r.component == "RED_CELLS" and r.available > 0}
        assert red == set(COMMON_GROUPS), hospital
        for component in ("PLATELETS", "PLASMA"):
            assert sum(r.available for r in mine if r.component == component) > 0, (
                hospital,
                component,
            )


def test_hospitals_hold_about_three_days_of_red_cells_and_more(region: Region) -> None:
    """The seed hospital keeps 3 days of red cells as routine; the ledger warns below 3."""
    red = [
        r.days_of_supply
        for r in region.hospital_rows()
        if r.component == "RED_CELLS" and r.rhd == "POS" and r.days_of_supply is not None
    ]
    assert len(red) == len(COMMON_GROUPS) * len(region.stream.hospitals)
    assert 3 <= statistics.median(red) <= 7
    assert sum(1 for days in red if days >= POLICY.hospital_yellow_days) >= 0.75 * len(red)


def test_most_stock_groups_are_green_and_a_few_are_not(region: Region) -> None:
    rows = region.inventory()
    hospital = [r for r in rows if not r.centre and stocked(r)]
    levels = {r.alert for r in hospital}
    green = [r for r in hospital if r.alert == AlertLevel.GREEN]
    assert len(green) >= 0.8 * len(hospital)  # platelets judged by their own thresholds
    assert levels & {AlertLevel.YELLOW, AlertLevel.ORANGE, AlertLevel.RED}
    kept = [r for r in hospital if r.component in ("RED_CELLS", "PLASMA", "CRYO")]
    assert sum(1 for r in kept if r.alert == AlertLevel.GREEN) >= 0.85 * len(kept)
    everything = sum(1 for r in rows if r.alert == AlertLevel.GREEN)
    assert everything >= 0.8 * len(rows)  # RhD-negative rows included


def test_the_centre_holds_its_reserve_above_the_emergency_line(region: Region) -> None:
    centre = [r for r in region.inventory() if r.centre and stocked(r)]
    assert {r.facility for r in centre} == {region.stream.centre}
    for component in ("RED_CELLS", "PLASMA"):
        groups = {r.abo: r for r in centre if r.component == component}
        assert set(groups) == set(COMMON_GROUPS), component
        for row in groups.values():
            assert row.days_of_supply is not None
            assert row.days_of_supply >= POLICY.centre_emergency_days, row
            assert row.alert == AlertLevel.GREEN
    # Platelets keep 5 days: the centre's reserve is judged against their own line.
    platelets = {r.abo: r for r in centre if r.component == "PLATELETS"}
    assert set(platelets) == set(COMMON_GROUPS)
    for row in platelets.values():
        assert row.days_of_supply is not None
        assert row.days_of_supply >= POLICY.thresholds("PLATELETS").emergency, row
        assert row.alert == AlertLevel.GREEN


def test_autologous_blood_is_reserved_and_raises_no_alert(region: Region) -> None:
    """The region keeps blood whole only for its autologous donor-patient: such units
    are counted apart, never as stock or demand, so no whole-blood row alerts."""
    whole = [r for r in region.inventory() if r.component == "WHOLE_BLOOD"]
    assert sum(r.reserved_autologous for r in whole) > 0
    assert all(r.available == 0 and r.daily_use == 0 for r in whole), whole
    assert {r.alert for r in whole} == {AlertLevel.GREEN}


def test_the_region_has_reactions_late_arrivals_and_lookbacks(region: Region) -> None:
    stream = region.stream
    reactions = [f for f in stream.facts if f.event_type == EventType.AdverseReactionReported]
    assert reactions
    recorded = region.models.ledger.units_of(reactions[0].din)
    assert any(fact.event_id == reactions[0].event_id for unit in recorded for fact in unit.facts)
    assert stream.late > 0
    cases = region.models.view.case_ids()
    assert region.recall.case_id in cases
    assert len(cases) > 1  # the random reactive repeat donors' too


def test_the_planted_recall_reaches_three_hospitals(region: Region) -> None:
    outbox = region.models.ledger.ledger_recorder.notice_outbox()
    recall = region.recall
    about_earlier = {
        (n.din, n.product_code, n.facility, str(n.action), n.patient_id)
        for n in (e.notice for e in outbox.of_case(recall.case_id))
        if n.din == recall.earlier_din
    }
    assert about_earlier == set(recall.notices())
    assert len({n[2] for n in about_earlier}) == 3


def test_no_flag_but_the_planted_ones(region: Region) -> None:
    planted: dict[tuple[str, str], set[str]] = {}
    for flag, units in region.stream.injected.items():
        for unit in units:
            planted.setdefault(unit, set()).add(flag)
    dins = sorted({f.din for f in region.stream.facts})
    found = {}
    for chunk in chunks(dins, 500):
        for row in region.models.view.units_by_din(list(chunk)):
            if row["flags"]:
                found[(row["din"], row["product_code"])] = set(row["flags"].split(","))
    assert found == planted
