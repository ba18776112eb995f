"""How long the reports take on a big store: the document, the HTML, the PDF.

For the busiest hospital and the blood centre of a store, each report over the last
full month and the last 365 days of its history: the document (the queries and the
counting), then its rendering as Chinese HTML and PDF (charts included)::

    python -m benchmarks.reports --records 1000000        # fill a store, then measure
    python -m benchmarks.reports --store sqlite:///big.db # measure an existing store

Writes ``benchmarks/results/reports.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.machine import RESULTS, machine
from benchmarks.queries import fill
from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.instants import from_ms
from ledger.entrypoints.quality import KINDS, render_report, report_document


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return round((time.perf_counter() - started) * 1000, 1), result


def subjects(models: ReadModels) -> tuple[str, str, datetime]:
    """The busiest hospital (most transfusions), the centre, and the last transfusion."""
    transfusions = models.view.table_rows("transfusions")
    [(hospital, _)] = Counter(r["facility"] for r in transfusions).most_common(1)
    [centre] = sorted(models.view.centres()) or [hospital]
    last = from_ms(max(r["transfused_at"] for r in transfusions))
    return hospital, centre, last


def measure(models: ReadModels) -> dict[str, Any]:
    hospital, centre, last = subjects(models)
    month_end = last.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = ((month_end - timedelta(days=1)).replace(day=1), month_end)
    year = (month_end - timedelta(days=365), month_end)
    results: dict[str, Any] = {"events": models.projector.head(), "hospital": hospital}
    for name, (start, end) in (("month", month), ("year", year)):
        for facility in (hospital, centre):
            for kind in KINDS:
                if facility == centre and kind != "inventory":
                    continue  # a centre transfuses nothing: its report is its stock
                document_ms, document = timed(
                    partial(report_document, kind, models.view, facility, start, end)
                )
                html_ms, _ = timed(partial(render_report, kind, document, "html", "zh"))
                pdf_ms, pdf = timed(partial(render_report, kind, document, "pdf", "zh"))
                key = f"{kind} {facility} {name}"
                results[key] = {
                    "from": start.date().isoformat(),
                    "to": end.date().isoformat(),
                    "document_ms": document_ms,
                    "html_ms": html_ms,
                    "pdf_ms": pdf_ms,
                    "pdf_kb": round(len(pdf) / 1024),
                }
                print(f"{key}: {results[key]}", file=sys.stderr, flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="an existing store (else one is filled)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS / "reports.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.store:
            models = open_read_models_of(store_for(args.store), create=False)
            models.projector.catch_up()
        else:
            models = fill(store_for(f"sqlite:///{work}/reports.db"), args.records, progress=True)
        try:
            results = {"machine": machine(), "measured_at": datetime.now(UTC).isoformat()}
            results |= measure(models)
        finally:
            models.close()
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
