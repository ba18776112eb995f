"""Scale-out: two ingest processes in one consumer group share a topic's partitions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from ledger.adapters.persistence import Store
from ledger.bootstrap import open_ledger
from ledger.services.partitions import upstream_name


def _offsets_done(store: Store, topic: str, partitions: int) -> int:
    ledger = open_ledger(store)
    try:
        keys = [upstream_name(topic, p) for p in range(partitions)]
        return sum((c.offset + 1) for k in keys if (c := ledger.checkpoint(k)) is not None)
    finally:
        ledger.close()


def two_workers(
    bootstrap: str, topic: str, partitions: int, store: Store, records: int
) -> dict[str, Any]:
    """Combined records/s from the first stored batch until every record is stored."""
    open_ledger(store).close()  # tables first, so the workers do not race to create them
    command = [
        sys.executable, "-m", "ledger.entrypoints.cli", "ingest",
        "--bootstrap", bootstrap, "--topic", topic, "--store", store.url,
        "--group", "bench-scaleout", "--until-idle", "5",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    workers = [
        subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    started = time.perf_counter()
    first: tuple[float, int] | None = None
    while True:
        done = _offsets_done(store, topic, partitions)
        now = time.perf_counter()
        if done and first is None:
            first = (now, done)
        if done >= records:
            break
        time.sleep(0.05)
    assert first is not None
    steady = (records - first[1]) / (now - first[0]) if now > first[0] else None
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors
    return {
        "workers": len(workers),
        "partitions": partitions,
        "records": records,
        "combined_records_per_s": round(steady) if steady else None,
        "wall_records_per_s_incl_group_join": round(records / (now - started)),
    }
