"""Memory of the ingest and projector processes with a backlog: bounded by a batch?

Publishes N generated facts (default 1,000,000) to the embedded broker, then
runs ``bloodledger ingest`` as a separate process into a fresh SQLite store
and samples its resident memory (VmRSS) every half second. Reports the peak,
and the RSS after 10 %, 50 % and 90 % of the backlog: flat means bounded.
Then rebuilds the projections of that store in a process of its own, sampled
the same way.

    python -m benchmarks.memory [--records N] [--batch-size B] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.workload import encoded, history
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import dlq_topic, publish


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def backlog(records: int) -> list[tuple[str, bytes]]:
    return encoded(history(records))


def sample(process: subprocess.Popen[bytes], total: int, log: Path) -> dict[str, Any]:
    samples: list[tuple[float, float, int]] = []
    started = time.monotonic()
    while process.poll() is None:
        rss = rss_mb(process.pid)
        done = _records_done(log)
        if rss is not None:
            samples.append((time.monotonic() - started, rss, done))
        time.sleep(0.5)
    at = {}
    for share in (0.1, 0.5, 0.9):
        reached = [rss for _, rss, done in samples if done >= share * total]
        at[f"rss_mb_at_{int(share * 100)}pct"] = round(reached[0], 1) if reached else None
    return {
        "peak_rss_mb": round(max(r for _, r, _ in samples), 1),
        **at,
        "seconds": round(time.monotonic() - started, 1),
    }


def _records_done(log: Path) -> int:
    try:
        lines = [line for line in log.read_text().splitlines() if "ingest: " in line]
    except FileNotFoundError:
        return 0
    if not lines:
        return 0
    return int(lines[-1].split("ingest: ")[1].split(" records")[0])


def _run(command: list[str], log: Path, total: int) -> dict[str, Any]:
    with log.open("w") as out:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
        return sample(process, total, log)


def peaks(records: int, batch_size: int) -> dict[str, Any]:
    """Ingest a backlog of ``records`` in its own process, then rebuild its projections."""
    messages = backlog(records)
    total = len(messages)
    with tempfile.TemporaryDirectory() as work, EmbeddedBroker() as broker:
        topic = "bloodledger.events"
        ensure_topics(broker.bootstrap, {topic: 3, dlq_topic(topic): 1})
        publish(broker.bootstrap, topic, messages)
        del messages
        store = f"sqlite:///{work}/bench.db"
        cli = [sys.executable, "-m", "ledger.entrypoints.cli"]
        ingest = _run(
            [*cli, "ingest", "--bootstrap", broker.bootstrap, "--store", store, "--until-idle", "5",
             "--progress-every", "1", "--batch-size", str(batch_size)],
            Path(work) / "ingest.log", total,
        )  # fmt: skip
        ingest.update(records=total, batch_size=batch_size)
        projector = _run(
            [*cli, "projections", "rebuild", "--store", store], Path(work) / "p.log", 0
        )
    return {"ingest": ingest, "projector_rebuild": projector}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = peaks(args.records, args.batch_size)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
