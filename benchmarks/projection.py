"""Projection rebuild throughput, beside reading the notification log alone."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.measure import Spread
from ledger.adapters.persistence import Store
from ledger.bootstrap import ReadModels, open_read_models_of


def read_log(models: ReadModels, page: int = 500) -> float:
    """Notifications/s of paging through the whole log (no decoding, no writing)."""
    started = time.perf_counter()
    position, seen = 0, 0
    while rows := models.ledger.event_log.page(position + 1, page):
        seen += len(rows)
        position = rows[-1].id
    return seen / (time.perf_counter() - started)


def rebuild(models: ReadModels) -> float:
    started = time.perf_counter()
    applied = models.projector.rebuild()
    return applied / (time.perf_counter() - started)


def compare(store: Store, runs: int) -> dict[str, Any]:
    baseline: list[float] = []
    rebuilt: list[float] = []
    with open_read_models_of(store) as models:
        events = models.projector.head()
        for _ in range(runs):
            baseline.append(read_log(models))
            rebuilt.append(rebuild(models))
    b, r = Spread.of(baseline), Spread.of(rebuilt)
    return {
        "events": events,
        "baseline_read_log": b.to_json(),
        "rebuild": r.to_json(),
        "ratio": round(r.median / b.median, 3),
    }
