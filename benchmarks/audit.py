"""The audit log's speed, each figure beside a baseline measured in the same run.

- **sealing keeps pace with ingest**: a store just filled by the Kafka ingest
  is sealed from scratch; the sealer's rate (stored facts/s) beside that
  ingest's own rate in stored facts/s;
- **sealing inside ingest**: the ingest with its companion sealer process
  (``ingest --seal``), beside the same ingest without it, alternated run by run;
- **audit verify** on a store of ``--verify-facts`` facts: facts/s recomputed
  and checked, beside reading the same log and nothing else;
- **a bundle of about 100 units**: seconds to export it and to verify it (ours,
  and Go's ``sumdb`` tools), against the same store.

``python -m benchmarks.audit [--records 50000] [--runs 3] [--verify-facts 1000000]``
writes ``benchmarks/results/audit.json`` (or ``--out``). All on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.ingest import ingest_once
from benchmarks.machine import RESULTS, machine, pg_stores
from benchmarks.measure import Spread
from benchmarks.workload import Scale, encoded, history
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.bundles import write_bundle
from ledger.adapters.checkpoints import CheckpointDirectory
from ledger.adapters.kafka import dlq_topic, publish
from ledger.adapters.keys import write_signing_key
from ledger.adapters.persistence import Store
from ledger.bootstrap import open_ledger
from ledger.domain.bundle import verify_bundle
from ledger.domain.identity import CLEAR
from ledger.domain.note import SigningKey
from ledger.entrypoints.companion import CompanionSealer, sealer_command
from ledger.entrypoints.runtime import tune_garbage_collector
from ledger.services.application import BloodLedger
from ledger.services.audit import Exporter, ExportRequest, verify_store
from ledger.services.sealer import Sealer, SealSettings

KEY = SigningKey.generate("bloodledger/benchmark")
EVERY = 10_000


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _sealer(ledger: BloodLedger, store: Store, folder: Path) -> Sealer:
    directory = CheckpointDirectory(folder, KEY.verifier)
    return Sealer(
        ledger.event_log, store.audit_tables(), KEY, [directory], settings=SealSettings(EVERY)
    )


def _sealing_into(
    store: Store, folder: Path, key: Path, companions: list[CompanionSealer]
) -> Callable[[BloodLedger], Callable[[], object]]:
    """What ``ingest --seal`` runs: the sealer in a companion process, started with the
    ingest (and checked after each batch), stopped once the ingest is done."""

    def make(ledger: BloodLedger) -> Callable[[], object]:
        args = argparse.Namespace(
            store=store.url, key=[str(key)], checkpoints=folder, every=EVERY, interval=1.0
        )
        companion = CompanionSealer(sealer_command(args))
        companion.start()
        companions.append(companion)
        return companion.check

    return make


def seal_all(store: Store, folder: Path) -> tuple[float, int]:
    """Facts/s sealing everything in ``store`` from an empty tree; how many facts."""
    ledger = open_ledger(store, create=False)
    try:
        sealer = _sealer(ledger, store, folder)
        started = time.perf_counter()
        sealed = sealer.seal()
        elapsed = time.perf_counter() - started
        sealer.store.close()
        return sealed.facts / elapsed, sealed.facts
    finally:
        ledger.close()


def pace(bootstrap: str, topic: str, records: int, runs: int, work: Path) -> dict[str, Any]:
    """Ingest alone, ingest with its companion sealer (``ingest --seal``), and sealing
    afterwards."""
    key = work / "key"
    write_signing_key(KEY.name, key)
    plain: list[float] = []
    inside: list[float] = []
    sealing: list[float] = []
    ingested: list[float] = []
    for run in range(runs):
        with pg_stores(2) as [alone, sealed]:
            rate, counters = ingest_once(bootstrap, topic, alone, records)
            assert counters.records == records, counters
            plain.append(rate)
            facts_per_record = _facts(alone) / records
            ingested.append(rate * facts_per_record)
            companions: list[CompanionSealer] = []
            with_sealer = _sealing_into(sealed, work / f"inside-{run}", key, companions)
            rate, counters = ingest_once(bootstrap, topic, sealed, records, after_batch=with_sealer)
            assert counters.records == records, counters
            assert all(companion.stop() == 0 for companion in companions)
            inside.append(rate)
            seal_rate, _ = seal_all(alone, work / f"after-{run}")
            sealing.append(seal_rate)
    p, i, s, g = Spread.of(plain), Spread.of(inside), Spread.of(sealing), Spread.of(ingested)
    return {
        "ingest_records_per_s": p.to_json(),
        "ingest_with_sealer_records_per_s": i.to_json(),
        "cost_of_sealing_inside_ingest": round(1 - i.median / p.median, 3),
        "ingest_facts_per_s": g.to_json(),
        "seal_facts_per_s": s.to_json(),
        "seal_over_ingest": round(s.median / g.median, 2),
    }


def _facts(store: Store) -> int:
    ledger = open_ledger(store, create=False)
    try:
        return ledger.event_log.head()
    finally:
        ledger.close()


def fill(store: Store, facts: int, progress: bool = True) -> BloodLedger:
    """A store of about ``facts`` stored facts, recorded as the ingest records them."""
    ledger = open_ledger(store)
    records = int(facts / 1.2)
    batch = 50_000
    done = 0
    while ledger.event_log.head() < facts and done < records * 2:
        chunk = history(batch, Scale(hospitals=20, donations_per_day=150), seed=done + 1)
        for start in range(0, len(chunk), 2000):
            ledger.record(chunk[start : start + 2000])
        done += len(chunk)
        if progress:
            step(f"  {ledger.event_log.head():,} facts stored")
    return ledger


def read_log(ledger: BloodLedger) -> float:
    """Notifications/s of reading the whole log, nothing else (verify's baseline)."""
    started = time.perf_counter()
    count, start = 0, 1
    while page := ledger.event_log.page(start, 5000):
        count += len(page)
        start = page[-1].id + 1
    return count / (time.perf_counter() - started)


def verification(store: Store, facts: int, runs: int, work: Path) -> dict[str, Any]:
    step(f"filling a store of {facts:,} facts")
    ledger = fill(store, facts)
    folder = work / "big"
    try:
        step("sealing it")
        sealer = _sealer(ledger, store, folder)
        started = time.perf_counter()
        sealed = sealer.seal()
        seal_rate = sealed.facts / (time.perf_counter() - started)
        published = list(CheckpointDirectory(folder).all())
        baseline: list[float] = []
        verify: list[float] = []
        for _ in range(runs):
            baseline.append(read_log(ledger))
            started = time.perf_counter()
            report = verify_store(ledger.event_log, sealer.store, published, KEY.verifier)
            verify.append(report.facts / (time.perf_counter() - started))
            assert report.ok, report.problems[:3]
        b, v = Spread.of(baseline), Spread.of(verify)
        result = {
            "facts": sealed.size,
            "checkpoints": len(published),
            "seal_facts_per_s": round(seal_rate),
            "baseline_read_log": b.to_json(),
            "verify_facts_per_s": v.to_json(),
            "ratio": round(v.median / b.median, 3),
        }
        result["bundle"] = bundle(ledger, sealer, folder, work)
        sealer.store.close()
        return result
    finally:
        ledger.close()


def bundle(ledger: BloodLedger, sealer: Sealer, folder: Path, work: Path) -> dict[str, Any]:
    """Export and verify a bundle of a hospital's days holding about 100 units."""
    middle = sealer.store.entries_between(sealer.size // 2, sealer.size // 2 + 5_000)
    hospital = next(e.facility for e in middle if e.topic.endswith(":TransfusionStarted"))
    assert hospital is not None
    by_day: dict[str, set[tuple[str | None, str]]] = {}
    for e in sealer.store.entries_where(facility=hospital):
        if e.occurred_at is not None and e.product_code is not None:
            day = datetime.fromtimestamp(e.occurred_at / 1000, UTC).date().isoformat()
            by_day.setdefault(day, set()).add((e.din, e.product_code))
    days = sorted(by_day)[len(by_day) // 2 :]
    units: set[tuple[str | None, str]] = set()
    last = days[0]
    for last in days:
        units |= by_day[last]
        if len(units) >= 100:
            break
    since = datetime.fromisoformat(days[0]).replace(tzinfo=UTC)
    until = datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1, milliseconds=-1)
    exporter = Exporter(
        ledger.event_log,
        sealer.store,
        [KEY],
        CLEAR,
        lambda: list(CheckpointDirectory(folder).all()),
    )
    started = time.perf_counter()
    files = exporter.export(ExportRequest("facility", hospital, since, until))
    exported = time.perf_counter() - started
    write_bundle(work / "bundle", files)
    started = time.perf_counter()
    report = verify_bundle(files)
    checked = time.perf_counter() - started
    assert report.ok, report.problems[:3]
    return {
        "facility_days": [days[0], last],
        "units": len(units),
        "facts": report.entries,
        "files": len(files),
        "export_s": round(exported, 3),
        "verify_s": round(checked, 3),
        "export_and_verify_s": round(exported + checked, 3),
    }


def main() -> None:
    tune_garbage_collector()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--verify-facts", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS / "audit.json")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "records": args.records, "runs": args.runs}
    messages = encoded(history(args.records))
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        topic = f"audit-bench-{int(time.time())}"
        ensure_topics(broker.bootstrap, {topic: 3, dlq_topic(topic): 1})
        publish(broker.bootstrap, topic, messages)
        step(f"ingest with and without the sealer, {len(messages):,} records x {args.runs}")
        results["pace"] = pace(broker.bootstrap, topic, len(messages), args.runs, work)
        with pg_stores(1) as [store]:
            results["verify"] = verification(store, args.verify_facts, args.runs, work)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
