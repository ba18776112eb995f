"""Projections on SQLite and PostgreSQL: a multi-facility scenario checked against
expectations worked out by hand from the story, plus rebuild and resume."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.base import TABLES
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.facts import ReportedFact
from ledger.domain.inventory import AlertPolicy
from ledger.domain.lookback import CaseRequest, automatic_case_id
from projections import queries
from tests.builders import CENTRE, HOSPITAL, PLASMA, RBC, START, Timeline, at, din

OTHER_HOSPITAL = "S3103"
T = at(240)  # day 10 of the story
D1, D2, D3, D4, D5 = (din(n) for n in range(101, 106))


def story() -> list[ReportedFact]:
    """Five donations, three donors, three facilities.

    D-ALPHA gives D1 (red cells transfused to P-ONE at S3102; plasma kept at
    the centre) and D2 (red cells at S3102), which turns HIV_NAT reactive at
    hour 200. D-BETA's O NEG red cells (D3) and D-GAMMA's A POS red cells (D4,
    expiring 12 h after T) are on the shelf at S3102; D-DELTA's (D5) at S3103.
    """
    d1 = Timeline(din=D1)
    d1.collected(0, donor="D-ALPHA")
    d1.produced(2)
    d1.produced(3, product_code=PLASMA, component="PLASMA", shelf_days=365)
    d1.released(6)
    d1.released(6, product_code=PLASMA)
    d1.issued(8)
    d1.received(10)
    d1.crossmatched(20, patient="P-ONE")
    d1.dispensed(22, patient="P-ONE")
    d1.started(23, patient="P-ONE")
    d1.completed(25, patient="P-ONE")
    d2 = Timeline(din=D2)
    d2.collected(120, donor="D-ALPHA")
    d2.produced(122)
    d2.released(126)
    d2.issued(128)
    d2.received(130)
    d2.tested(200, test="HIV_NAT", result="REACTIVE")
    d3 = Timeline(din=D3)
    d3.collected(50, donor="D-BETA")
    d3.produced(52, abo="O", rhd="NEG")
    d3.released(56)
    d3.issued(58)
    d3.received(60)
    d4 = Timeline(din=D4)
    d4.collected(100, donor="D-GAMMA")
    d4.produced(102, shelf_days=(252 - 102) / 24)
    d4.released(106)
    d4.issued(108)
    d4.received(110)
    d5 = Timeline(din=D5)
    d5.collected(150, donor="D-DELTA")
    d5.produced(152)
    d5.released(156)
    d5.issued(158, to=OTHER_HOSPITAL)
    d5.received(160, at_facility=OTHER_HOSPITAL)
    return d1.facts + d2.facts + d3.facts + d4.facts + d5.facts


@pytest.fixture
def models(durable_store_url: str) -> Iterator[ReadModels]:
    opened = open_read_models_of(store_for(durable_store_url), page_size=7)
    opened.ledger.record(story())
    opened.projector.catch_up()
    yield opened
    opened.close()


def stock(models: ReadModels, facility: str) -> dict[tuple[str, str, str], dict[str, object]]:
    rows = queries.inventory(models.view, T, AlertPolicy(), facility)
    return {(r.component, r.abo, r.rhd): r.to_json() for r in rows}


def test_hospital_inventory_days_of_supply_and_expiry(models: ReadModels) -> None:
    s3102 = stock(models, HOSPITAL)
    # A POS red cells: D4 only (D2 is quarantined); used once in 14 days (D1 -> P-ONE).
    assert s3102[("RED_CELLS", "A", "POS")] == {
        "facility": HOSPITAL,
        "component": "RED_CELLS",
        "abo": "A",
        "rhd": "POS",
        "available": 1,
        "units": 2.0,
        "expiring_24h": 1,
        "expiring_72h": 1,
        "daily_use": round(1 / 14, 3),
        "days_of_supply": 14.0,
        "alert": "GREEN",
        "reserved_autologous": 0,
        "thresholds": {"yellow": 3.0, "orange": 2.0, "red": 1.0},
    }
    assert s3102[("RED_CELLS", "O", "NEG")]["available"] == 1
    assert s3102[("RED_CELLS", "O", "NEG")]["days_of_supply"] is None  # never used here
    assert set(s3102) == {("RED_CELLS", "A", "POS"), ("RED_CELLS", "O", "NEG")}
    assert stock(models, OTHER_HOSPITAL)[("RED_CELLS", "A", "POS")]["available"] == 1


def test_centre_inventory_counts_issues_as_use_and_warns_below_five_days(
    models: ReadModels,
) -> None:
    centre = stock(models, CENTRE)
    # Every red cell unit was issued: A POS D1, D2, D4, D5 (4 in 14 days), O NEG D3 (1).
    assert centre[("RED_CELLS", "A", "POS")]["available"] == 0
    assert centre[("RED_CELLS", "A", "POS")]["daily_use"] == round(4 / 14, 3)
    assert centre[("RED_CELLS", "A", "POS")]["alert"] == "EMERGENCY"
    assert centre[("RED_CELLS", "O", "NEG")]["alert"] == "EMERGENCY"
    # D1's plasma was quarantined by the lookback at T, so it is no longer stock.
    assert ("PLASMA", "A", "POS") not in centre


def test_inventory_as_of_a_past_moment(models: ReadModels) -> None:
    before = {
        (r.facility, r.component, r.abo, r.rhd): r.available
        for r in queries.inventory(models.view, at(140), AlertPolicy())
    }
    # At hour 140: D2 and D4 (A POS) and D3 (O NEG) at S3102; D1's plasma at the centre.
    assert before[(HOSPITAL, "RED_CELLS", "A", "POS")] == 2
    assert before[(HOSPITAL, "RED_CELLS", "O", "NEG")] == 1
    assert before[(CENTRE, "PLASMA", "A", "POS")] == 1
    assert (OTHER_HOSPITAL, "RED_CELLS", "A", "POS") not in before


def test_forward_trace_from_a_donor(models: ReadModels) -> None:
    document = queries.trace_donor(models.view, "D-ALPHA")
    assert document["donors"] == ["D-ALPHA"]
    assert [d["din"] for d in document["donations"]] == [D1, D2]
    units = {(u["din"], u["product_code"]): (u["status"], u["facility"]) for u in document["units"]}
    assert units == {
        (D1, RBC): ("TRANSFUSED", HOSPITAL),
        (D1, PLASMA): ("QUARANTINED", CENTRE),
        (D2, RBC): ("QUARANTINED", HOSPITAL),
    }
    assert [(r["patient_id"], r["din"], r["transfused_at"]) for r in document["recipients"]] == [
        ("P-ONE", D1, "2026-09-02T07:00:00Z"),
    ]


def test_backward_trace_from_a_patient(models: ReadModels) -> None:
    document = queries.trace_patient(models.view, "P-ONE")
    assert document["donors"] == ["D-ALPHA"]
    assert [d["din"] for d in document["donations"]] == [D1]
    assert [(u["din"], u["product_code"]) for u in document["units"]] == [(D1, RBC)]


def test_trace_from_a_din_both_ways(models: ReadModels) -> None:
    document = queries.trace_din(models.view, D2)
    assert document["donors"] == ["D-ALPHA"]
    assert document["units"][0]["flags"] == ["REACTIVE_DONATION"]
    assert document["recipients"] == []


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 8, 13, 2000])
def test_the_automatic_lookback_is_complete_wherever_a_page_ends(
    sqlite_url: str, page_size: int
) -> None:
    """A page can end inside the batch that brought a reactive result and the
    units it concerns; the case must still quarantine every unit in stock."""
    with open_read_models_of(store_for(sqlite_url), page_size=page_size) as models:
        models.ledger.record(story())
        models.projector.catch_up()
        report = models.lookbacks.report(automatic_case_id(D2), T)
        assert report is not None
        assert {(u["din"], u["product_code"]) for u in report["units_quarantined"]} == {
            (D1, PLASMA),
            (D2, RBC),
        }


def test_a_reactive_donation_opens_a_lookback_by_itself(models: ReadModels) -> None:
    report = models.lookbacks.report(automatic_case_id(D2), T)
    assert report is not None
    assert report["donor_id"] == "D-ALPHA" and report["opened_by"] == "bloodledger"
    assert [d["din"] for d in report["donations"]] == [D1, D2]
    assert {(u["din"], u["product_code"]) for u in report["units_quarantined"]} == {
        (D1, PLASMA),
        (D2, RBC),
    }
    assert [(u["din"], u["product_code"]) for u in report["units_consumed"]] == [(D1, RBC)]
    assert [(r["patient_id"], r["din"]) for r in report["recipients_to_notify"]] == [("P-ONE", D1)]
    assert report["units_not_accounted_for"] == []
    [result] = [f for f in story() if f.event_type == "TestResultRecorded" and f.din == D2]
    for code in (PLASMA, RBC):  # every unit of the window, the one transfused too
        [unit] = models.ledger.units_of(D1, code)
        quarantines = [f for f in unit.facts if f.EVENT_TYPE == "UnitQuarantined"]
        assert (
            [(q.case_id, q.occurred_at, q.actor, q.facility) for q in quarantines]
            == [  # type: ignore[attr-defined]
                (automatic_case_id(D2), result.occurred_at, "bloodledger", D1[:5])
            ]
        )
    [transfused] = models.ledger.units_of(D1, RBC)
    assert transfused.state().status == "TRANSFUSED"  # a quarantine after use changes nothing


def test_opening_the_same_case_twice_quarantines_once(models: ReadModels) -> None:
    request = CaseRequest(
        "LB-TEST-1", "D-BETA", "donor reported hepatitis", START, T, None, "inv-7"
    )
    assert models.lookbacks.open(request) == 1
    assert models.lookbacks.open(request) == 0
    [unit] = models.ledger.units_of(D3, RBC)
    assert [f.EVENT_TYPE for f in unit.facts].count("UnitQuarantined") == 1
    report = models.lookbacks.report("LB-TEST-1", T)
    assert report is not None
    assert [(u["din"], u["status"]) for u in report["units_quarantined"]] == [(D3, "QUARANTINED")]
    assert report["recipients_to_notify"] == []


def dump(models: ReadModels) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: sorted(tuple(sorted(row.items())) for row in models.view.table_rows(table))
        for table in TABLES
    }


def test_rebuild_equals_the_incremental_tables(models: ReadModels) -> None:
    incremental = dump(models)
    assert incremental["cases"]
    models.projector.rebuild()
    assert dump(models) == incremental
    assert models.projector.lag() == 0


def test_a_rebuild_stopped_midway_resumes_to_the_same_tables(models: ReadModels) -> None:
    incremental = dump(models)
    pages = iter(range(3))
    models.view.reset(models.projector.upstream)
    models.projector.catch_up(stop=lambda: next(pages, None) is None)
    assert 0 < models.projector.position() < models.projector.head()
    models.projector.catch_up()
    assert dump(models) == incremental
