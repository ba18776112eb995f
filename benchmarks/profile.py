"""Where the time goes: sampling profiles of the ingest's hot path and of a rebuild.

    python -m benchmarks.profile [--records 30000]

Records ``--records`` generated facts into a fresh PostgreSQL store the way
the ingest does (Avro decode, then ``BloodLedger.record`` in batches of
2,000 with a tracking record each; Kafka left out so the client's own work
shows), then rebuilds the projections of that store. Writes the two call
trees (pyinstrument, sampling: it does not inflate call-heavy code as
cProfile does) to ``benchmarks/results/profile-{ingest,rebuild}.txt``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from eventsourcing.persistence import Tracking
from pyinstrument import Profiler

from benchmarks.machine import RESULTS, pg_stores
from benchmarks.workload import encoded, history
from ledger.adapters.avro import AvroCodec
from ledger.bootstrap import open_read_models_of
from ledger.entrypoints.runtime import tune_garbage_collector


def main() -> None:
    tune_garbage_collector()  # as the bloodledger commands do
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    messages = [value for _, value in encoded(history(args.records))]
    codec = AvroCodec()
    with pg_stores(1) as [store], open_read_models_of(store) as models:
        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        with profiler:
            for batch, start in enumerate(range(0, len(messages), 2000)):
                facts = [codec.decode(value) for value in messages[start : start + 2000]]
                models.ledger.record(facts, [Tracking("kafka:profile:0", batch)])
        rate = len(messages) / (time.perf_counter() - started)
        title = f"{len(messages):,} facts, {rate:,.0f} facts/s profiled"
        _write(args.out_dir / "profile-ingest.txt", profiler, title)
        events = models.projector.head()
        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        with profiler:
            models.projector.rebuild()
        rate = events / (time.perf_counter() - started)
        title = f"{events:,} events, {rate:,.0f} events/s profiled"
        _write(args.out_dir / "profile-rebuild.txt", profiler, title)


def _write(out: Path, profiler: Profiler, title: str) -> None:
    out.write_text(f"{title}\n{profiler.output_text(unicode=False, color=False)}")
    print(f"{title} -> {out}")


if __name__ == "__main__":
    main()
