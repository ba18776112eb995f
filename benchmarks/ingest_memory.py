"""Ingest memory with a large backlog: is it bounded by one batch, not the backlog?

Publishes N generated facts (default 1,000,000) to the embedded broker, then
runs ``bloodledger ingest`` as a separate process into a fresh SQLite store
and samples its resident memory (VmRSS) every half second. Reports the peak,
and the RSS after 10 %, 50 % and 90 % of the backlog: flat means bounded.

    python -m benchmarks.ingest_memory [--records N] [--batch-size B] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import dlq_topic, publish
from ledger.demo.generator import DemoConfig, generate


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
    """About ``records`` encoded facts from the demo generator, scaled up."""
    per_day = 350  # about 380 facts a day at 6 hospitals and 18 donations a day
    days = max(1, records // per_day + 1)
    start = datetime.now(UTC) - timedelta(
        days=days + 2
    )  # all in the past: the codec refuses the future
    stream = generate(
        DemoConfig(start=start, days=days, hospitals=6, donations_per_day=18, seed=99)
    )
    codec = AvroCodec()
    facts = stream.facts[:records]
    return [(f.din, codec.encode(f)) for f in facts]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    messages = backlog(args.records)
    total = len(messages)
    print(f"backlog: {total} messages", flush=True)
    with tempfile.TemporaryDirectory() as work, EmbeddedBroker() as broker:
        topic = "bloodledger.events"
        ensure_topics(broker.bootstrap, {topic: 3, dlq_topic(topic): 1})
        started = time.monotonic()
        publish(broker.bootstrap, topic, messages)
        print(f"published in {time.monotonic() - started:.0f} s", flush=True)
        del messages
        log = Path(work) / "ingest.log"
        with log.open("w") as out:
            command = [
                sys.executable, "-m", "ledger.cli", "ingest", "--bootstrap", broker.bootstrap,
                "--store", f"sqlite:///{work}/bench.db", "--until-idle", "5",
                "--progress-every", "1", "--batch-size", str(args.batch_size),
            ]  # fmt: skip
            environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=environment
            )
            result = sample(process, total, log)
        result.update(
            records=total, batch_size=args.batch_size, final=log.read_text().splitlines()[-1]
        )
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
