"""``python -m benchmarks``: the whole benchmark suite, each figure beside its baseline.

    python -m benchmarks [--records N] [--runs R] [--sizes 100000,1000000] [--quick]
        [--hospitals H] [--donations-per-day D] [--repeat-donor-share S] [--days N]

Writes ``benchmarks/results/latest.json`` and ``latest.md`` and prints the table.
PostgreSQL comes from ``BLOODLEDGER_BENCH_PG`` (default the local ``test``
database; each run uses a fresh schema, dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks import ingest, memory, projection, queries, scaleout
from benchmarks.machine import RESULTS, machine, pg_stores
from benchmarks.workload import Scale, encoded, history
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import dlq_topic, publish
from ledger.adapters.persistence.sqlite import SQLiteStore
from ledger.entrypoints.runtime import tune_garbage_collector


def topic_with(broker: EmbeddedBroker, messages: list[tuple[str, bytes]], partitions: int) -> str:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, {topic: partitions, dlq_topic(topic): 1})
    publish(broker.bootstrap, topic, messages)
    return topic


def step(text: str) -> None:
    """Progress of a long run, on stderr (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "records": args.records, "runs": args.runs}
    scale = Scale(args.hospitals, args.donations_per_day, args.repeat_donor_share, args.days)
    results["workload"] = asdict(scale)
    step(f"generating {args.records:,} records")
    messages = encoded(history(args.records, scale))
    records = len(messages)
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as work:
        topic = topic_with(broker, messages, 3)
        with pg_stores(args.runs) as stores:
            step("ingest and projection rebuild, PostgreSQL")
            results["ingest_postgresql"] = ingest.compare(broker.bootstrap, topic, stores, records)
            results["projection_postgresql"] = projection.compare(stores[-1], args.runs)
        sqlite = [SQLiteStore(f"sqlite:///{work}/run{n}.db") for n in range(args.runs)]
        step("ingest and projection rebuild, SQLite")
        results["ingest_sqlite"] = ingest.compare(broker.bootstrap, topic, sqlite, records)
        results["projection_sqlite"] = projection.compare(sqlite[-1], args.runs)
        step("two ingest workers")
        wide = topic_with(broker, messages, 6)
        with pg_stores(1) as [store]:
            results["scale_out_postgresql"] = scaleout.two_workers(
                broker.bootstrap, wide, 6, store, records
            )
    results["queries_postgresql"] = {}
    for size in args.sizes:
        with pg_stores(1) as [store]:
            step(f"history and trace latency at {size:,} records")
            models = queries.fill(store, size, scale=scale)
            try:
                results["queries_postgresql"][str(size)] = queries.measure(models)
            finally:
                models.close()
    step("process memory")
    results["memory"] = memory.peaks(args.memory_records, 2000)
    return results


def _spread(s: dict[str, Any]) -> str:
    return f"{s['median']:,.0f} ({s['min']:,.0f}..{s['max']:,.0f})"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpus']} cores, Python {m['python']}, PostgreSQL {m['postgresql']}; "
        f"{results['records']:,} records, median of {results['runs']} runs (min..max)",
        "",
        _row("measure", "result", "baseline (same run)", "ratio"),
        _row("---", "---", "---", "---"),
    ]
    for store in ("postgresql", "sqlite"):
        i, p = results["ingest_" + store], results["projection_" + store]
        ingest_name = f"ingest Kafka -> {store}, exactly-once (records/s)"
        read = f"read+decode {_spread(i['baseline_read_decode'])}"
        lines.append(_row(ingest_name, _spread(i["ingest"]), read, i["ratio"]))
        rebuild_name = f"projection rebuild, {store} (events/s)"
        log = f"read log {_spread(p['baseline_read_log'])}"
        lines.append(_row(rebuild_name, _spread(p["rebuild"]), log, p["ratio"]))
    scale = results["scale_out_postgresql"]
    lines.append(_row("2 ingest workers, 6 partitions, postgresql (records/s)",
                      scale["combined_records_per_s"], "", ""))  # fmt: skip
    for size, q in results["queries_postgresql"].items():
        for name in ("history", "trace_donor", "trace_patient"):
            measure = f"{name} at {int(size):,} records ({q['events']:,} events): p50 / p99 ms"
            lines.append(_row(measure, f"{q[name]['p50_ms']} / {q[name]['p99_ms']}", "", ""))
    mem = results["memory"]
    backlog = f"ingest peak RSS, backlog {mem['ingest']['records']:,} records (MB)"
    lines.append(_row(backlog, mem["ingest"]["peak_rss_mb"], "", ""))
    lines.append(
        _row("projection rebuild peak RSS (MB)", mem["projector_rebuild"]["peak_rss_mb"], "", "")
    )
    return "\n".join(lines)


def main() -> None:
    tune_garbage_collector()  # as the bloodledger commands do
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="100000", help="store sizes (records) for query latency")
    parser.add_argument("--hospitals", type=int, default=Scale.hospitals)
    parser.add_argument("--donations-per-day", type=int, default=Scale.donations_per_day)
    parser.add_argument(
        "--repeat-donor-share",
        type=float,
        default=Scale.repeat_donor_share,
        help="chance an eligible returning donor gives the next donation (fewer, busier donors)",
    )
    parser.add_argument("--days", type=int, help="days to simulate (default: what --records needs)")
    parser.add_argument(
        "--memory-records", type=int, default=20_000, help="backlog, 10x a 2,000 batch"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks that the suite runs"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    if args.quick:
        args.records, args.runs, args.sizes, args.memory_records = 3000, 1, "3000", 4000
    args.sizes = [int(s) for s in str(args.sizes).split(",")]
    started = time.monotonic()
    results = run(args)
    results["seconds"] = round(time.monotonic() - started)
    table = markdown(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
