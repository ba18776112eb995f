"""The demo's planted recall, through the ledger on both durable stores: the reactive
donation opens its automatic lookback, and the notices the case records are exactly the
ones the simulator says it planted — a QUARANTINE to the hospital holding the plasma, a
NOTIFY_RECIPIENT naming the patient to the one that transfused the red cells, a
QUARANTINE to the one the cryo is on its way to — besides the reactive donation's own
units, quarantined at the centre. Nothing else of the stream is flagged for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.services.ports import NoticeOutbox
from simulator import DemoConfig, DemoStream, PlantedRecall, generate

#: The small world with the recall planted: quick on both stores.
STREAM = generate(DemoConfig(recall=True, seed=41))


def planted() -> PlantedRecall:
    assert STREAM.recall is not None
    return STREAM.recall


@pytest.fixture
def models(durable_store_url: str) -> Iterator[ReadModels]:
    """The stream recorded in publication order and projected: the ledger's automatic
    lookbacks have run at the end of the log."""
    opened = open_read_models_of(store_for(durable_store_url))
    opened.ledger.record(list(STREAM.facts))
    opened.projector.catch_up()
    yield opened
    opened.close()


def outbox(models: ReadModels) -> NoticeOutbox:
    return models.ledger.ledger_recorder.notice_outbox()


def summary(models: ReadModels, case_id: str) -> set[tuple[str, str, str, str, str | None]]:
    return {
        (n.din, n.product_code, n.facility, str(n.action), n.patient_id)
        for n in (e.notice for e in outbox(models).of_case(case_id))
    }


def own_units(stream: DemoStream, din: str) -> set[str]:
    return {f.product_code for f in stream.facts if f.din == din and f.product_code is not None}


def test_the_case_gives_the_planted_notices_and_quarantines_the_reactive_units_at_the_centre(
    models: ReadModels,
) -> None:
    recall = planted()
    assert recall.case_id in models.view.case_ids()
    centre = {
        (recall.reactive_din, code, STREAM.centre, "QUARANTINE", None)
        for code in own_units(STREAM, recall.reactive_din)
    }
    assert summary(models, recall.case_id) == set(recall.notices()) | centre
    entries = outbox(models).of_case(recall.case_id)
    assert {e.notice.issued_at for e in entries} == {recall.result_at}
    earlier = [e for e in outbox(models).entries() if e.notice.din == recall.earlier_din]
    assert {e.notice.case_id for e in earlier} == {recall.case_id}  # one case, one notice each
    assert len(earlier) == 3


def test_each_hospital_reads_its_own_notice(models: ReadModels) -> None:
    recall = planted()
    for unit in (recall.on_shelf, recall.transfused, recall.in_transit):
        mine = {
            (e.notice.din, e.notice.product_code)
            for e in outbox(models).entries(facility=unit.facility)
        }
        assert (unit.din, unit.product_code) in mine


def test_the_case_report_sorts_the_earlier_units_by_where_they_are(models: ReadModels) -> None:
    recall = planted()
    report = models.lookbacks.report(recall.case_id, STREAM.end)
    assert report is not None
    assert report["donor_id"] == recall.donor_id
    assert {d["din"] for d in report["donations"]} == {recall.earlier_din, recall.reactive_din}

    def where(key: str) -> set[tuple[str, str, str | None]]:
        return {(u["din"], u["product_code"], u["facility"]) for u in report[key]}

    shelf, moving = recall.on_shelf, recall.in_transit
    assert (shelf.din, shelf.product_code, shelf.facility) in where("units_quarantined")
    recipients = {
        (r["patient_id"], r["din"], r["product_code"], r["facility"])
        for r in report["recipients_to_notify"]
    }
    given = recall.transfused
    assert recipients == {(recall.recipient_id, given.din, given.product_code, given.facility)}
    in_transit = [
        u
        for u in report["units_not_accounted_for"]
        if (u["din"], u["product_code"]) == (moving.din, moving.product_code)
    ]
    assert [u["in_transit_to"] for u in in_transit] == [moving.facility]


def test_the_recall_raises_no_flag_beyond_the_planted_ones(models: ReadModels) -> None:
    """With the lookback's quarantines recorded: nothing used after its quarantine."""
    planted_flags: dict[tuple[str, str], set[str]] = {}
    for flag, units in STREAM.injected.items():
        for unit in units:
            planted_flags.setdefault(unit, set()).add(flag)
    dins = sorted({f.din for f in STREAM.facts})
    rows = models.view.units_by_din(dins)
    found = {(r["din"], r["product_code"]): set(r["flags"].split(",")) for r in rows if r["flags"]}
    assert found == planted_flags
