"""A page whose facts leave a unit's rows as they were writes none of them.

Bedside checks of a unit already dispensed change none of its rows: the projector
computes them, finds them as it last wrote them, writes only the page's position,
and hands the lookback policy none of their DINs (it reads nothing but the tables).
A check of a unit still on the shelf splits the unit's availability at the check's
moment: those rows are written. Either way the tables are a rebuild's, on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.unit import unit_id
from projections.rows import Changes
from tests.builders import RBC, Timeline, din
from tests.integration.test_projections import dump


class Watched:
    """What the projector asks of its store and its lookback policy, from now on."""

    def __init__(self, models: ReadModels, monkeypatch: pytest.MonkeyPatch) -> None:
        self.written: list[list[str]] = []  # the unit ids of each page's rows written
        self.asked: list[set[str] | None] = []  # the DINs handed to the lookback policy
        apply, at_head = models.view.apply, models.projector.at_head
        assert at_head is not None

        def applying(changes: Changes, tracking: Any) -> None:
            self.written.append([rows.unit_id for rows in changes.units])
            apply(changes, tracking)

        def asking(dins: Iterable[str] | None) -> bool:
            self.asked.append(None if dins is None else set(dins))
            return at_head(dins)

        monkeypatch.setattr(models.view, "apply", applying)
        monkeypatch.setattr(models.projector, "at_head", asking)


@pytest.fixture
def models(durable_store_url: str) -> Iterator[ReadModels]:
    with open_read_models_of(store_for(durable_store_url)) as opened:
        yield opened


def on_the_shelf(models: ReadModels) -> Timeline:
    """A unit received at its hospital, its rows projected."""
    timeline = Timeline(din=din(1))
    timeline.collected()
    timeline.produced()
    timeline.grouped()
    timeline.tested()
    timeline.released()
    timeline.issued()
    timeline.received()
    models.ledger.record(timeline.facts)
    models.projector.catch_up()
    return timeline


def test_checks_of_a_dispensed_unit_write_only_the_position(
    models: ReadModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeline = on_the_shelf(models)
    models.ledger.record([timeline.crossmatched(), timeline.dispensed()])
    models.projector.catch_up()
    watched = Watched(models, monkeypatch)
    models.ledger.record([timeline.checked(hour=22.5)])
    models.ledger.record([timeline.checked(hour=22.6), timeline.checked(hour=22.7)])
    assert models.projector.catch_up() == 3
    assert watched.written == [[]]  # one page: its position, no row
    assert watched.asked == []
    assert models.projector.lag() == 0
    incremental = dump(models)
    models.projector.rebuild()
    assert dump(models) == incremental


def test_a_check_of_a_unit_on_the_shelf_writes_its_rows(
    models: ReadModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeline = on_the_shelf(models)
    before = [r for r in models.view.table_rows("available") if r["valid_to"] is None]
    watched = Watched(models, monkeypatch)
    models.ledger.record([timeline.checked(hour=21)])
    models.projector.catch_up()
    assert watched.written == [[unit_id(timeline.din, RBC).hex]]
    assert watched.asked == [{timeline.din}]
    after = [r for r in models.view.table_rows("available") if r["valid_to"] is None]
    assert len(before) == len(after) == 1 and before != after  # split at the check
    incremental = dump(models)
    models.projector.rebuild()
    assert dump(models) == incremental


def test_rows_are_written_again_after_another_projector_moved_the_position(
    durable_store_url: str, models: ReadModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a projector remembers of the rows it wrote holds only at its own position:
    once another one has projected the same store, it compares with nothing."""
    timeline = on_the_shelf(models)
    models.ledger.record([timeline.crossmatched(), timeline.dispensed()])
    models.projector.catch_up()
    models.ledger.record([timeline.checked(hour=22.5)])
    with open_read_models_of(store_for(durable_store_url)) as other:
        other.projector.catch_up()
    watched = Watched(models, monkeypatch)
    models.ledger.record([timeline.checked(hour=22.6)])
    models.projector.catch_up()
    assert watched.written == [[unit_id(timeline.din, RBC).hex]]
