"""Investigator latency: a unit's history and traces from a donor and a patient.

Each store size is filled through the same code path as real events
(``BloodLedger.record`` with the facts the Avro codec decodes to), without
Kafka, then projected; the busiest donor and patient are traced.

One size alone (the 10M-event store takes about half an hour to fill here)::

    python -m benchmarks.queries --records 4800000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.measure import latencies_ms
from benchmarks.workload import DEFAULT_SCALE, Scale, history
from ledger.adapters.persistence import Store, store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.facts import ReportedFact
from ledger.entrypoints.runtime import tune_garbage_collector
from ledger.services.history import history_json
from projections import queries

#: Above this many records a store is filled one calendar year at a time (``segments``).
SEGMENT_RECORDS = 1_000_000
#: The region those years come from: a province's blood centre and its hospitals.
REGION = Scale(hospitals=20, donations_per_day=150)


def fill(
    store: Store,
    records: int,
    batch: int = 2000,
    progress: bool = False,
    first_year: int | None = None,
    scale: Scale = DEFAULT_SCALE,
) -> ReadModels:
    """Record ``records`` generated facts through ``BloodLedger.record``, then project."""
    models = open_read_models_of(store)
    started = time.monotonic()
    done = 0
    for facts in segments(records, first_year, scale):
        for start in range(0, len(facts), batch):
            models.ledger.record(facts[start : start + batch])
            if progress and (start // batch) % 100 == 0:
                _say(f"recorded {done + start + batch:,} of {records:,} facts", started)
        done += len(facts)
    models.projector.catch_up(progress=_projected(started) if progress else None)
    return models


def segments(
    records: int, first_year: int | None = None, scale: Scale = DEFAULT_SCALE
) -> Iterator[list[ReportedFact]]:
    """The history to fill, generated a segment at a time so memory stays bounded.

    Up to ``SEGMENT_RECORDS`` (and no ``first_year``): one history ending now
    at ``scale``. Otherwise a region's decades: one busier calendar year
    per million records (20 hospitals, 150 donations a day) from ``first_year``
    (2000), so DINs — which carry the year — never repeat.
    """
    if records <= SEGMENT_RECORDS and first_year is None:
        yield history(records, scale, seed=records)
        return
    for index, first in enumerate(range(0, records, SEGMENT_RECORDS)):
        year = (first_year or 2000) + index
        start = datetime(year, 1, 2, tzinfo=UTC)
        size = min(SEGMENT_RECORDS, records - first)
        yield history(size, REGION, seed=year, start=start)


def _say(text: str, started: float) -> None:
    print(f"[{time.monotonic() - started:7.0f} s] {text}", file=sys.stderr, flush=True)


def _projected(started: float) -> Any:
    def report(position: int, head: int) -> None:
        if position % 200_000 < 2000 or position == head:
            _say(f"projected {position:,} of {head:,} events", started)

    return report


def busiest(rows: list[dict[str, Any]], column: str) -> tuple[str, int]:
    """The value of ``column`` most rows have (``None`` not counted), and how many have it."""
    [(value, count)] = Counter(r[column] for r in rows if r[column] is not None).most_common(1)
    return value, count


def subjects(models: ReadModels) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """Every donation's DIN (in order), the busiest donor and the busiest patient."""
    donations = models.view.table_rows("donations")
    dins = sorted(r["din"] for r in donations)
    donor_id, donations_n = busiest(donations, "donor_id")
    del donations
    patient_id, transfusions_n = busiest(models.view.table_rows("transfusions"), "patient_id")
    donor = {"donor_id": donor_id, "n": donations_n}
    return dins, donor, {"patient_id": patient_id, "n": transfusions_n}


def measure(models: ReadModels, repeats: int = 200) -> dict[str, Any]:
    view = models.view
    dins, donor, patient = subjects(models)
    chance = random.Random(1)
    return {
        "events": models.projector.head(),
        "history": latencies_ms(
            lambda: history_json(models.ledger.units_of(chance.choice(dins))), repeats
        ),
        "trace_donor": {
            "donations": donor["n"],
            **latencies_ms(lambda: queries.trace_donor(view, donor["donor_id"]), repeats),
        },
        "trace_patient": {
            "transfusions": patient["n"],
            **latencies_ms(lambda: queries.trace_patient(view, patient["patient_id"]), repeats),
        },
    }


def main() -> None:
    from benchmarks.machine import RESULTS, machine, pg_stores

    tune_garbage_collector()  # as the bloodledger commands do
    parser = argparse.ArgumentParser(description="history and trace latency at one store size")
    parser.add_argument("--records", type=int, required=True, help="facts to record first")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--store", help="an existing store to add to and measure (kept)")
    parser.add_argument("--first-year", type=int, help="year of the first segment added")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.store:
            store = store_for(args.store)
        else:
            [store] = stack.enter_context(pg_stores(1))
        started = time.monotonic()
        models = fill(store, args.records, progress=True, first_year=args.first_year)
        filled_s = round(time.monotonic() - started)
        try:
            result = {"machine": machine(), "records_added": args.records, "fill_seconds": filled_s}
            result.update(measure(models, args.repeats))
        finally:
            models.close()
    out = args.out or RESULTS / f"queries-{args.records}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
