"""The alerts page's list: the newest entries and the count, made without the rest.

``/alerts`` shows the newest entries and how many there are; the read side makes
just those (:func:`projections.queries.newest_alerts`) instead of every entry of a
ledger's history. They must be exactly the whole list's first entries, and the count
its length — for everyone, and for one facility — on SQLite and PostgreSQL. The
centres (whose stock is judged by the centres' thresholds) are found by index probes
(:meth:`~ledger.adapters.persistence.base.ReadModelTables.centres`); they must be
every facility that produced a unit.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.facts import ReportedFact
from ledger.domain.inventory import AlertPolicy
from ledger.domain.vocabulary import Flag
from projections import queries
from projections.queries import AlertList
from simulator import DemoConfig, generate
from tests.builders import Timeline, din
from tests.unit.test_unit_state import FLAG_STORIES

STREAM = generate(DemoConfig(seed=14, days=10, hospitals=3, donations_per_day=12, breach_rate=0.2))
POLICY = AlertPolicy()
#: Centres besides the region's own, each producing one unit.
OTHER_CENTRES = ("S3108", "S3109")


def produced_elsewhere() -> list[ReportedFact]:
    """A donation per other centre, its red cells produced there."""
    facts = []
    for n, centre in enumerate(OTHER_CENTRES):
        timeline = Timeline(din=din(900 + n))
        timeline.collected()
        facts.append(timeline.facts[0])
        facts.append(dataclasses.replace(timeline.produced(), facility=centre))
    return facts


def flagged_at_one_moment() -> list[ReportedFact]:
    """Three units transfused to a patient of another group, at the same moment: three
    findings the list must order the same way every time."""
    return [
        dataclasses.replace(fact, din=din(950 + n))
        for n in range(3)
        for fact in FLAG_STORIES[Flag.ABO_INCOMPATIBLE]().facts
    ]


@pytest.fixture
def models(durable_store_url: str) -> Iterator[ReadModels]:
    opened = open_read_models_of(store_for(durable_store_url))
    opened.ledger.record(STREAM.facts)
    opened.ledger.record(produced_elsewhere() + flagged_at_one_moment())
    opened.projector.catch_up()
    yield opened
    opened.close()


def test_the_newest_alerts_are_the_first_of_the_whole_list(models: ReadModels) -> None:
    at = STREAM.end + timedelta(days=2)  # notices of the last days overdue by then
    whole = queries.alerts(models.view, at, POLICY)
    kinds = Counter(entry["kind"] for entry in whole)
    assert kinds["SAFETY_FLAG"] > 10 and kinds["INVENTORY"] > 0, kinds
    ties = Counter(entry["at"] for entry in whole if entry["kind"] == "SAFETY_FLAG")
    assert max(ties.values()) > 1, "no two findings of one moment: the order of ties untested"
    first = next(n for n, entry in enumerate(whole) if entry["kind"] == "SAFETY_FLAG")
    assert first > 0, "the conditions at the moment are the newest entries"
    for most in (*range(1, len(whole) + 1, 3), len(whole), len(whole) + 5):
        assert queries.newest_alerts(models.view, at, POLICY, most) == AlertList(
            whole[:most], len(whole)
        ), most
    since = at - timedelta(days=5)
    recent = queries.alerts(models.view, at, POLICY, since)
    assert 0 < len(recent) < len(whole)
    assert queries.newest_alerts(models.view, at, POLICY, 9, since) == AlertList(
        recent[:9], len(recent)
    )


def test_one_facility_s_newest_alerts_are_the_first_of_its_entries(models: ReadModels) -> None:
    at = STREAM.end + timedelta(days=2)
    whole = queries.alerts(models.view, at, POLICY)
    facilities = sorted({entry["facility"] for entry in whole if entry.get("facility")})
    assert len(facilities) > 2
    for facility in facilities:
        own = [entry for entry in whole if entry.get("facility") == facility]
        for most in (1, 4, len(own) + 1):
            found = queries.newest_alerts(models.view, at, POLICY, most, facility=facility)
            assert found == AlertList(own[:most], len(own)), facility


def test_the_centres_are_every_facility_that_produced_a_unit(models: ReadModels) -> None:
    produced = {
        row["production_facility"]
        for row in models.view.table_rows("units")
        if row["production_facility"] is not None
    }
    assert len(produced) == 1 + len(OTHER_CENTRES)
    assert models.view.centres() == produced
