"""Autologous units kept apart from stock, on SQLite and PostgreSQL.

An autologous unit may only go to its own donor-patient (``shared/domain.md`` §8):
it is on a shelf, but nobody else can be given it, and its transfusion drew on no
one's shelf. The inventory counts it apart (``reserved_autologous``) and leaves it
out of available units, daily use and days of supply, so it raises no alert.

The story (whole blood, every unit produced and issued by the centre S3101, received
at the hospital S3102; the 14-day window ends at T = hour 240, so every use counts):

- A POS: W1 (voluntary) on the shelf; W2 (voluntary) transfused at hour 120; W3
  (autologous, for P-AUTO-A) on the shelf; W4 (autologous, for P-AUTO-A) transfused at
  hour 100. Issuable: W1, 1 unit of 2 单位; reserved: W3; daily use 1/14 (W2 only, not
  W4): 14 days of supply, GREEN. (Counting W3 and W4: 2 units over 2/14 a day.)
- B POS: W5 (autologous, for P-AUTO-B) transfused at hour 150 and nothing else: no row
  at the hospital. (Counting it: 0 units against 1/14 a day, 0 days, RED.)
- O POS: W6 (autologous, for P-AUTO-O) on the shelf only: a row with nothing
  available, 1 reserved, no use, GREEN.
- At the centre every unit was issued: A POS demand is W1 and W2, 2/14 a day, against
  no stock: EMERGENCY, rightly; B POS and O POS, issued only to their patients, have
  no row at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.facts import ReportedFact
from ledger.domain.inventory import AlertLevel, AlertPolicy
from ledger.entrypoints.quality import report_document
from projections import queries
from projections.queries import InventoryRow
from tests.builders import CENTRE, HOSPITAL, Timeline, at, din

pytestmark = pytest.mark.integration

WHOLE_BLOOD = "E0001V00"
T = at(240)
POLICY = AlertPolicy()


def _whole_blood(
    n: int, abo: str, *, patient: str | None = None, transfused_at: float | None = None
) -> Timeline:
    """One whole-blood unit collected at hour ``n``, autologous for ``patient`` if given,
    issued to the hospital and, if ``transfused_at``, transfused there."""
    unit = Timeline(din=din(300 + n))
    kind = "AUTOLOGOUS" if patient else "VOLUNTARY"
    unit.collected(n, donation_type=kind, intended=patient, donor=patient or f"D-{n}")
    unit.produced(n + 2, product_code=WHOLE_BLOOD, component="WHOLE_BLOOD", abo=abo)
    unit.released(n + 6, product_code=WHOLE_BLOOD)
    unit.issued(n + 8, product_code=WHOLE_BLOOD)
    unit.received(n + 10, product_code=WHOLE_BLOOD)
    if transfused_at is not None:
        who = patient or "P-ANY"
        unit.crossmatched(transfused_at - 3, patient=who, abo=abo, product_code=WHOLE_BLOOD)
        unit.dispensed(transfused_at - 1, patient=who, product_code=WHOLE_BLOOD)
        unit.started(transfused_at, patient=who, product_code=WHOLE_BLOOD)
    return unit


def story() -> list[ReportedFact]:
    units = [
        _whole_blood(1, "A"),
        _whole_blood(2, "A", transfused_at=120),
        _whole_blood(3, "A", patient="P-AUTO-A"),
        _whole_blood(4, "A", patient="P-AUTO-A", transfused_at=100),
        _whole_blood(5, "B", patient="P-AUTO-B", transfused_at=150),
        _whole_blood(6, "O", patient="P-AUTO-O"),
    ]
    return [fact for unit in units for fact in unit.facts]


@pytest.fixture
def models(durable_store_url: str) -> Iterator[ReadModels]:
    opened = open_read_models_of(store_for(durable_store_url), page_size=9)
    yield opened
    opened.close()


def _rows(models: ReadModels, facility: str) -> dict[tuple[str, str, str], InventoryRow]:
    rows = queries.inventory(models.view, T, POLICY, facility)
    return {(r.component, r.abo, r.rhd): r for r in rows}


def test_autologous_units_are_reserved_not_stock(models: ReadModels) -> None:
    models.ledger.record(story())
    models.projector.catch_up()
    hospital = _rows(models, HOSPITAL)
    assert set(hospital) == {("WHOLE_BLOOD", "A", "POS"), ("WHOLE_BLOOD", "O", "POS")}
    a_pos = hospital[("WHOLE_BLOOD", "A", "POS")]
    assert (a_pos.available, a_pos.units, a_pos.reserved_autologous) == (1, 2.0, 1)
    assert a_pos.daily_use == 1 / 14 and a_pos.days_of_supply == pytest.approx(14.0)
    assert a_pos.alert == AlertLevel.GREEN
    assert a_pos.to_json()["reserved_autologous"] == 1
    o_pos = hospital[("WHOLE_BLOOD", "O", "POS")]
    assert (o_pos.available, o_pos.reserved_autologous, o_pos.daily_use) == (0, 1, 0.0)
    assert (o_pos.days_of_supply, o_pos.alert) == (None, AlertLevel.GREEN)

    centre = _rows(models, CENTRE)
    assert set(centre) == {("WHOLE_BLOOD", "A", "POS")}
    issued = centre[("WHOLE_BLOOD", "A", "POS")]
    assert (issued.available, issued.reserved_autologous, issued.daily_use) == (0, 0, 2 / 14)
    assert issued.alert == AlertLevel.EMERGENCY

    stock_alerts = [a for a in queries.alerts(models.view, T, POLICY) if a["kind"] == "INVENTORY"]
    assert [(a["facility"], a["abo"], a["alert"]) for a in stock_alerts] == [
        (CENTRE, "A", "EMERGENCY")
    ]


def test_the_inventory_report_leaves_them_out_as_the_dashboard_does(models: ReadModels) -> None:
    models.ledger.record(story())
    models.projector.catch_up()
    report = report_document(
        "inventory", models.view, HOSPITAL, at(0), T + timedelta(hours=1), policy=POLICY
    )
    groups = {(g["component"], g["abo"], g["rhd"]): g["points"] for g in report["groups"]}
    assert set(groups) == {("WHOLE_BLOOD", "A", "POS")}  # O POS: only reserved units
    last = groups[("WHOLE_BLOOD", "A", "POS")][-1]  # the sample at hour 240
    assert (last["available"], last["daily_use"], last["alert"]) == (1, round(1 / 14, 3), "GREEN")


def test_a_collection_reported_late_moves_its_unit_from_stock_to_reserved(
    models: ReadModels,
) -> None:
    """The unit's facts first, its donation's collection (AUTOLOGOUS) last: the
    projection of the donation re-derives the unit's rows."""
    late = _whole_blood(6, "O", patient="P-AUTO-O").facts
    collection = [f for f in late if f.event_type == "DonationCollected"]
    models.ledger.record([f for f in late if f not in collection])
    models.projector.catch_up()
    before = _rows(models, HOSPITAL)[("WHOLE_BLOOD", "O", "POS")]
    assert (before.available, before.reserved_autologous) == (1, 0)
    models.ledger.record(collection)
    models.projector.catch_up()
    after = _rows(models, HOSPITAL)[("WHOLE_BLOOD", "O", "POS")]
    assert (after.available, after.reserved_autologous) == (0, 1)
