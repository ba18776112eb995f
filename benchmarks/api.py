"""The HTTP API under load: bedside checks and unit histories, beside ``/healthz``.

    python -m benchmarks.api [--events 1000000] [--seconds 30] [--clients 50]
        [--think-ms 0[,1000,...]] [--read-share 0.25] [--targets 5000] [--warmup 3]
        [--hospitals 20] [--donations-per-day 600] [--http raw|httpx] [--profile N]
        [--store FILE] [--serve-options '--threads 8'] [--out benchmarks/results/api.json]
        [--profile-out benchmarks/results/profile-api.txt]

1. **The store**: a fresh PostgreSQL schema filled with at least ``--events`` stored
   events through ``BloodLedger.record``: the demo generator's region, ``--hospitals``
   (20) hospitals and ``--donations-per-day`` (600: a large province; at the 150 of
   :mod:`benchmarks.queries` the hospitals' shelves hold a quarter as many units to
   check) for as many whole days as that takes, up to now; then projected.
2. **Check targets**: units the read models show AVAILABLE at a hospital (received
   there, not transfused, in date for two more days). For up to ``--targets`` of them
   the hospital's LIS reports, for a new patient of the unit's own group, a crossmatch
   (red cells and whole blood: sample drawn 3 h ago, crossmatched 1 h ago, COMPATIBLE)
   and the blood bank's dispensing of the unit just before the server starts: the
   bag a nurse holds at the bedside. Each is checked in-process (nothing recorded) to
   answer ALLOW. **History reads**: DINs of units the read models show at a hospital.
3. **The server**: ``bloodledger serve`` in a process of its own, on that store, and a
   clinician token for each hospital (a clinician reads the histories of its own units).
4. **The load**: ``--clients`` closed-loop clients (asyncio, one keep-alive HTTP/1.1
   connection each: a minimal client on asyncio's streams, about a tenth of httpx's CPU
   a request, or httpx with ``--http httpx``) in a process of their own, each holding a
   disjoint share of the targets (no two clients check one unit at once, as no two nurses
   hang one bag).
   For each ``--think-ms`` (a pause of 0.5..1.5 times it after each answer): first the
   **baseline** — the same clients against ``/healthz`` — then the **measurement** — a
   check (``POST /api/v1/checks/transfusion``) or, with ``--read-share``, a history
   (``GET /api/v1/units/{din}``) — each for ``--seconds`` after ``--warmup`` seconds not
   counted. Latency is from sending a request to its whole answer read; an error is a
   status other than 2xx or an exception.
5. **Beside it**: the server's resident memory (``VmRSS``) every second; the CPU time of
   the server, of PostgreSQL, of the client and of everything else on the machine
   (``/proc``); and the server's own latency histogram (``/metrics``) over each
   measurement. With ``--profile N``, afterwards, N checks profiled in-process
   (:func:`profile_checks`).

With ``--store FILE`` the store is kept for the next run: the first run builds it as
above, keeps its PostgreSQL schema and writes ``FILE`` (its URL and the units it
dispensed); a later run with the same ``FILE`` reuses it — the units the last run
dispensed come back to their blood banks (``UnitReturned``, 10 minutes out of storage)
and step 2 dispenses every shelf unit afresh, so each run checks bags dispensed a
minute before its server starts. Drop the schema when done (``FILE`` names it).

Results to ``--out`` (JSON), progress to stderr. The client, the server and PostgreSQL
share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import math
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx

from benchmarks.machine import PG, RESULTS, machine, pg_stores
from benchmarks.measure import percentile
from benchmarks.memory import rss_mb
from benchmarks.queries import segments
from benchmarks.workload import Scale, history
from ledger.adapters.persistence import Store
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.bootstrap import ReadModels, open_access, open_read_models_of
from ledger.domain.bedside import BedsideRequest, check_unit
from ledger.domain.compatibility import RED_CELL_COMPONENTS
from ledger.domain.facts import ReportedFact
from ledger.domain.identity import IDENTITY_FIELDS
from ledger.domain.instants import ms
from ledger.domain.unit_state import Status
from ledger.domain.vocabulary import CrossmatchMethod, CrossmatchResult, Decision, EventType
from ledger.entrypoints.runtime import CIPHER_KEY_ENV, tune_garbage_collector

#: Stored events a day per daily donation in the region (about 22 facts, 1.23 events
#: each, measured; a margin below, so that the days chosen hold enough).
EVENTS_PER_DONATION_DAY = 26
#: The p99 the issue asks of the check, in milliseconds.
TARGET_P99_MS = 25.0
CHECK, HISTORY, HEALTHZ = "check", "history", "healthz"
ROUTES = {
    CHECK: "/api/v1/checks/transfusion",
    HISTORY: "/api/v1/units/{din}",
    HEALTHZ: "/healthz",
}
#: Checks between two catch-ups of the projector in the profile (:func:`profile_checks`).
PROFILE_BATCH = 25
#: How long the server may take to be ready, seconds: read models of another version
#: are built again first, minutes at a million events.
READY_S = 900
#: Width of the windows the measurement's check latency is also reported in, seconds.
WINDOW_S = 5


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- the store -----------------------------------------------------------------------


def fill(store: Store, events: int, region: Scale) -> tuple[ReadModels, dict[str, Any]]:
    """At least ``events`` stored events recorded as the ingest records them, projected.

    Whole days of the region up to now (the few facts the simulation dates later —
    expired units discarded tomorrow — left out), so that the hospitals' shelves hold
    the units a ward would check today. Should that be short of ``events``, a year of
    the region dated decades back (DINs carry the year: they are its own) tops it up."""
    models = open_read_models_of(store)
    started = time.monotonic()
    days = max(3, math.ceil(events / (EVENTS_PER_DONATION_DAY * region.donations_per_day)))
    now = datetime.now(UTC)
    scale = dataclasses.replace(region, days=days)

    def up_to_now() -> Iterator[list[ReportedFact]]:
        yield [f for f in history(2**62, scale, seed=days) if f.occurred_at <= now]

    chunks: Iterator[list[ReportedFact]] = up_to_now()
    done, year = 0, 1990
    while True:
        for facts in chunks:
            for start in range(0, len(facts), 2000):
                models.ledger.record(facts[start : start + 2000])
                if (start // 2000) % 50 == 49:
                    step(f"  {done + start + 2000:,} facts recorded")
            done += len(facts)
        missing = events - models.ledger.event_log.head()
        if missing <= 0:
            break
        chunks, year = segments(missing + 1000, year, region), year + 1
    recorded = time.monotonic() - started
    step(f"  {done:,} facts, {models.ledger.event_log.head():,} events; projecting")
    models.projector.catch_up()
    return models, {
        "facts": done,
        "events": models.ledger.event_log.head(),
        "region": {
            "hospitals": region.hospitals,
            "donations_per_day": region.donations_per_day,
            "days": days,
        },
        "record_s": round(recorded),
        "project_s": round(time.monotonic() - started - recorded),
    }


@dataclass(frozen=True)
class Target:
    """A unit to check, the patient it is crossmatched and dispensed for, where."""

    din: str
    product_code: str
    patient_id: str
    patient_abo: str
    patient_rhd: str
    facility: str

    def body(self) -> dict[str, str]:
        return {
            "din": self.din,
            "product_code": self.product_code,
            "patient_id": self.patient_id,
            "patient_abo": self.patient_abo,
            "patient_rhd": self.patient_rhd,
            "facility": self.facility,
        }


def _at_hospitals(models: ReadModels) -> list[dict[str, Any]]:
    """Unit rows whose unit is, or ended, at a hospital (not where it was made)."""
    rows = models.view.table_rows("units")
    return [
        r
        for r in rows
        if r["facility"] is not None
        and r["production_facility"] is not None
        and r["facility"] != r["production_facility"]
    ]


def prepare_targets(
    models: ReadModels, rows: list[dict[str, Any]], most: int, now: datetime
) -> list[Target]:
    """Dispense up to ``most`` units on hospital shelves to new patients of their own
    group, red cells and whole blood crossmatched first, as the hospitals' systems would
    report it; keep those the ledger then says ALLOW for."""
    horizon = ms(now + timedelta(days=2))
    shelf = [
        r
        for r in rows
        if r["status"] == Status.AVAILABLE
        and r["in_transit_to"] is None
        and not r["flags"]
        and r["expires_at"] is not None
        and r["expires_at"] > horizon
    ]
    random.Random(12).shuffle(shelf)
    chosen = shelf[:most]
    facts: list[ReportedFact] = []
    targets: list[Target] = []
    sample_at, crossmatched_at = now - timedelta(hours=3), now - timedelta(hours=1)
    dispensed_at = now - timedelta(seconds=1)  # after any return of a last run's units
    for n, r in enumerate(chosen):
        patient = _patient_of(r["din"], r["product_code"])
        target = Target(r["din"], r["product_code"], patient, r["abo"], r["rhd"], r["facility"])
        targets.append(target)
        common = {
            "source_system": "hospital-lis",
            "facility": target.facility,
            "actor": f"bb-{target.facility[-2:]}01",
            "din": target.din,
            "product_code": target.product_code,
        }
        if r["component"] in RED_CELL_COMPONENTS:
            facts.append(_crossmatch(target, n, sample_at, crossmatched_at, common))
        facts.append(
            ReportedFact(
                event_id=str(uuid.uuid4()),
                event_type=EventType.UnitDispensed,
                occurred_at=dispensed_at,
                payload={"patient_id": target.patient_id},
                **common,
            )
        )
    for start in range(0, len(facts), 2000):
        models.ledger.record(facts[start : start + 2000])
    models.projector.catch_up()
    at = datetime.now(UTC)
    return [t for t in targets if _answer(models, t, at) == Decision.ALLOW]


def _crossmatch(
    target: Target, n: int, sample_at: datetime, at: datetime, common: dict[str, Any]
) -> ReportedFact:
    """The hospital's LIS: the unit crossmatched COMPATIBLE against a sample of the patient."""
    return ReportedFact(
        event_id=str(uuid.uuid4()),
        event_type=EventType.CrossmatchPerformed,
        occurred_at=at,
        payload={
            "patient_id": target.patient_id,
            "patient_abo": target.patient_abo,
            "patient_rhd": target.patient_rhd,
            "sample_id": f"SM{target.patient_id}-{n}",
            "sample_collected_at": sample_at,
            "method": CrossmatchMethod.ELECTRONIC.value,
            "result": CrossmatchResult.COMPATIBLE.value,
        },
        **common,
    )


def _patient_of(din: str, product_code: str) -> str:
    """The benchmark's patient for a unit: the same in every run on a kept store, so a
    unit dispensed again goes to the patient it was crossmatched for before."""
    return "PB" + hashlib.sha256(f"{din}{product_code}".encode()).hexdigest()[:10].upper()


def return_to_shelves(models: ReadModels, targets: list[dict[str, str]], at: datetime) -> None:
    """The units a last run dispensed come back to their blood banks unused, out of
    storage for 10 minutes (within the 30-minute rule): on the shelf again."""
    facts = [
        ReportedFact(
            event_id=str(uuid.uuid4()),
            event_type=EventType.UnitReturned,
            occurred_at=at,
            source_system="hospital-lis",
            facility=t["facility"],
            actor=f"bb-{t['facility'][-2:]}01",
            din=t["din"],
            product_code=t["product_code"],
            payload={"minutes_out_of_storage": 10},
        )
        for t in targets
    ]
    for start in range(0, len(facts), 2000):
        models.ledger.record(facts[start : start + 2000])
    models.projector.catch_up()


@contextmanager
def bench_store(kept: Path | None) -> Iterator[tuple[Store, dict[str, Any] | None]]:
    """A fresh schema dropped afterwards; or with ``kept``, the store that file names
    (and what the last run left in it), else a new one kept and named there."""
    if kept is None:
        with pg_stores(1) as [store]:
            yield store, None
        return
    if kept.exists():
        state: dict[str, Any] = json.loads(kept.read_text())
        yield PostgresStore(state["url"]), state
        return
    url = f"{PG}?schema=bench_api_{uuid.uuid4().hex[:8]}"
    yield PostgresStore(url), None


def _answer(models: ReadModels, target: Target, at: datetime) -> Decision:
    """What a check would answer now, computed in-process (nothing recorded)."""
    [record] = models.ledger.units_of(target.din, target.product_code)
    patient = models.ledger.identities.seal(IDENTITY_FIELDS["patient_id"], target.patient_id)
    request = BedsideRequest(patient, target.patient_abo, target.patient_rhd, target.facility, at)
    return check_unit(record.state(at), request).decision


def realistic_pace(models: ReadModels) -> dict[str, Any]:
    """How many transfusions (each one bedside check, or two) the region starts a day."""
    used = [r["transfused_at"] for r in models.view.table_rows("transfusions")]
    if len(used) < 2:
        return {"transfusions": len(used)}
    days = max(1.0, (max(used) - min(used)) / 86_400_000)
    per_day = len(used) / days
    return {
        "transfusions": len(used),
        "days": round(days),
        "transfusions_per_day": round(per_day),
        "checks_per_s_region_average": round(per_day / 86_400, 5),
    }


# -- the server ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    store: Store, log: Path, options: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``bloodledger serve`` on ``store`` in its own process, ready (projector caught up),
    with further ``options`` of its own."""
    port = _free_port()
    command = [sys.executable, "-m", "ledger.entrypoints.cli", "serve", "--store", store.url,
               "--port", str(port), *options]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != CIPHER_KEY_ENV}
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
        try:
            _wait_ready(base, process, log)
            yield base, process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-3000:]}")
        try:
            ready = httpx.get(f"{base}/readyz", timeout=5)
            if ready.status_code == 200 and ready.json()["projection_lag"] == 0:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server was not ready in {READY_S} s: {log.read_text()[-3000:]}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time so far of every PostgreSQL process on the machine (every session's)."""
    total = 0.0
    for status in Path("/proc").glob("[0-9]*/comm"):
        try:
            if status.read_text().strip() == "postgres":
                total += cpu_seconds(int(status.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every core so far (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


class MemorySampler:
    """The server's RSS every second, each sample labelled with the phase then running."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.phase = "idle"
        self.samples: list[tuple[float, str, float]] = []
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = rss_mb(self.pid)
            if rss is not None:
                self.samples.append((time.monotonic() - self._started, self.phase, rss))
            self._stop.wait(1.0)

    def report(self) -> dict[str, Any]:
        """RSS at the start, middle and end of the measured phases, the peak, and whether
        it is flat: the end within 5 % (or 10 MB) of the middle."""
        measured = [rss for _, phase, rss in self.samples if phase.startswith("measure")]
        every = [rss for _, _, rss in self.samples]
        if not measured:
            return {"samples": len(every)}
        start, mid, end = measured[0], measured[len(measured) // 2], measured[-1]
        return {
            "samples": len(every),
            "first_mb": round(every[0], 1),
            "start_mb": round(start, 1),
            "mid_mb": round(mid, 1),
            "end_mb": round(end, 1),
            "peak_mb": round(max(every), 1),
            "growth_mb": round(end - start, 1),
            "second_half_growth_mb": round(end - mid, 1),
            "flat": end - mid <= max(10.0, 0.05 * mid),
            "by_phase": self.by_phase(),
            "timeline": [(round(t), phase, round(rss, 1)) for t, phase, rss in self.samples],
        }

    def by_phase(self) -> list[dict[str, Any]]:
        """Each stretch of one phase, in order: its seconds and its first, last and
        highest RSS (MB) — the curve that says whether memory plateaus."""
        stretches: list[dict[str, Any]] = []
        for t, phase, rss in self.samples:
            if not stretches or stretches[-1]["phase"] != phase:
                stretches.append({"phase": phase, "from_s": round(t), "first_mb": rss,
                                  "last_mb": rss, "peak_mb": rss})  # fmt: skip
            last = stretches[-1]
            last["last_mb"], last["peak_mb"] = rss, max(last["peak_mb"], rss)
        for stretch in stretches:
            for key in ("first_mb", "last_mb", "peak_mb"):
                stretch[key] = round(stretch[key], 1)
        return stretches


_BUCKET = re.compile(r"^bloodledger_http_request_duration_seconds_bucket\{(?P<labels>.*)\} "
                     r"(?P<value>\S+)$")  # fmt: skip


def server_histogram(base: str) -> dict[str, dict[str, float]]:
    """Route -> ``le`` -> cumulative count of the server's own latency histogram."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        matched = _BUCKET.match(line)
        if matched is None:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', matched["labels"]))
        found.setdefault(labels["route"], {})[labels["le"]] = float(matched["value"])
    return found


def histogram_between(
    before: dict[str, dict[str, float]],
    after: dict[str, dict[str, float]],
    route: str,
    within_s: float = 0.025,
) -> dict[str, Any]:
    """The server's time for ``route`` between two scrapes: share within ``within_s``
    (one of the histogram's bounds) and the buckets its p50 and p99 fall in (upper
    bounds, in ms)."""
    then, now = before.get(route, {}), after.get(route, {})
    counts = {le: now[le] - then.get(le, 0.0) for le in now}
    total = counts.get("+Inf", 0.0)
    if not total:
        return {"requests": 0}
    bounds = sorted((float(le), n) for le, n in counts.items() if le != "+Inf")

    def bucket(share: float) -> float | None:
        return next((le * 1000 for le, n in bounds if n >= share * total), None)

    return {
        "requests": int(total),
        f"share_within_{within_s * 1000:g}_ms": round(counts.get(str(within_s), 0.0) / total, 4),
        "p50_at_most_ms": bucket(0.5),
        "p99_at_most_ms": bucket(0.99),
    }


# -- the clients (a process of their own) ------------------------------------------------


def drive(plan: dict[str, Any]) -> dict[str, Any]:
    """Run one phase of the load in this process; its figures, and its own CPU time."""
    cpu = time.process_time()
    result = asyncio.run(_phase(plan))
    result["client_cpu_s"] = round(time.process_time() - cpu, 2)
    return result


async def _phase(plan: dict[str, Any]) -> dict[str, Any]:
    clients: int = plan["clients"]
    began = time.perf_counter()
    counting = began + plan["warmup"]
    deadline = counting + plan["seconds"]
    samples: list[tuple[str, int, float, float]] = []  # route, status, ms, at (s)
    exceptions: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    targets = [plan["targets"][i::clients] if plan["targets"] else [] for i in range(clients)]
    transport = RawConnection if plan["http"] == "raw" else HttpxConnection

    async def client(index: int) -> None:
        chance = random.Random(index)
        mine = targets[index]
        turn = 0
        async with transport(plan["base"]) as http:
            while (started := time.perf_counter()) < deadline:
                kind, method, path, token, body = _request(plan, chance, mine, turn)
                turn += kind == CHECK
                try:
                    status, answer = await http.send(method, path, token, body)
                    if kind == CHECK and status == 200 and started >= counting:
                        decisions[json.loads(answer)["decision"]] += 1
                except Exception as error:
                    status = 0
                    if started >= counting:
                        exceptions[type(error).__name__] += 1
                ended = time.perf_counter()
                if started >= counting:
                    samples.append((kind, status, (ended - started) * 1000, started - counting))
                if plan["think_ms"]:
                    await asyncio.sleep(plan["think_ms"] / 1000 * chance.uniform(0.5, 1.5))

    await asyncio.gather(*(client(i) for i in range(clients)))
    return _summary(samples, plan["seconds"], exceptions, decisions)


def _request(
    plan: dict[str, Any], chance: random.Random, mine: list[dict[str, Any]], turn: int
) -> tuple[str, str, str, str | None, bytes | None]:
    """(kind, method, path, token, JSON body) of a client's next request."""
    if plan["kind"] == HEALTHZ:
        return HEALTHZ, "GET", "/healthz", None, None
    tokens: dict[str, str] = plan["tokens"]
    if not mine or chance.random() < plan["read_share"]:
        din, facility = chance.choice(plan["reads"])
        return HISTORY, "GET", f"/api/v1/units/{din}", tokens[facility], None
    target = mine[turn % len(mine)]
    body = json.dumps(target).encode()
    return CHECK, "POST", ROUTES[CHECK], tokens[target["facility"]], body


class HttpxConnection:
    """One client's keep-alive connection, through ``httpx.AsyncClient``."""

    def __init__(self, base: str) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.http = httpx.AsyncClient(base_url=base, timeout=30, limits=limits)

    async def __aenter__(self) -> HttpxConnection:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    async def send(
        self, method: str, path: str, token: str | None, body: bytes | None
    ) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = await self.http.request(method, path, headers=headers, content=body)
        return response.status_code, response.content


class RawConnection:
    """One client's keep-alive HTTP/1.1 connection on asyncio streams: the least work a
    client can do per request, so that its CPU time takes little from the server's."""

    def __init__(self, base: str) -> None:
        parts = base.removeprefix("http://").split(":")
        self.host, self.port = parts[0], int(parts[1])
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def __aenter__(self) -> RawConnection:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None

    async def send(
        self,
        method: str,
        path: str,
        token: str | None,
        body: bytes | None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request and its whole answer; ``headers`` more of the request's own
        (a page's cookie, htmx's ``HX-Request``)."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (body or b""))
        try:
            return await asyncio.wait_for(self._answer(reader), 30)
        except BaseException:
            self._close()  # whatever was half read, the next request starts afresh
            raise

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        status = int((await reader.readline()).split(b" ", 2)[1])
        length, chunked, closing = 0, False, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                closing = b"close" in value.lower()
        if chunked:
            answer = b""
            while size := int((await reader.readline()).split(b";")[0], 16):
                answer += await reader.readexactly(size + 2)
                answer = answer[:-2]
            await reader.readline()
        else:
            answer = await reader.readexactly(length)
        if closing:
            self._close()
        return status, answer


def _latencies(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"requests": 0}
    return {
        "requests": len(values),
        "p50_ms": round(percentile(values, 0.5), 2),
        "p90_ms": round(percentile(values, 0.9), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
        "max_ms": round(max(values), 2),
        "mean_ms": round(sum(values) / len(values), 2),
    }


def _summary(
    samples: list[tuple[str, int, float, float]],
    seconds: float,
    exceptions: Counter[str],
    decisions: Counter[str],
) -> dict[str, Any]:
    statuses = Counter(str(status) for _, status, _, _ in samples)
    errors = sum(1 for _, status, _, _ in samples if not 200 <= status < 300)
    routes: dict[str, Any] = {}
    for kind in sorted({kind for kind, _, _, _ in samples}):
        values = [latency for k, _, latency, _ in samples if k == kind]
        routes[kind] = {
            "route": ROUTES[kind],
            **_latencies(values),
            "per_s": round(len(values) / seconds, 1),
            "errors": sum(1 for k, s, _, _ in samples if k == kind and not 200 <= s < 300),
        }
    windows = []
    main = CHECK if CHECK in routes else HEALTHZ
    for start in range(0, math.ceil(seconds), WINDOW_S):
        values = [lat for k, _, lat, at in samples if k == main and start <= at < start + WINDOW_S]
        if values:
            p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
            windows.append({"from_s": start, "n": len(values), "p50_ms": round(p50, 2),
                            "p99_ms": round(p99, 2)})  # fmt: skip
    return {
        "requests": len(samples),
        "per_s": round(len(samples) / seconds, 1),
        "errors": errors,
        "statuses": dict(statuses),
        "exceptions": dict(exceptions),
        "routes": routes,
        "decisions": dict(decisions),
        f"{main}_windows_{WINDOW_S}s": windows,
    }


# -- one run -------------------------------------------------------------------------------


def run_phase(
    pool: ProcessPoolExecutor,
    plan: dict[str, Any],
    server: subprocess.Popen[bytes],
    base: str,
    memory: MemorySampler,
    name: str,
) -> dict[str, Any]:
    memory.phase = f"warmup-{name}"
    running = pool.submit(drive, plan)
    time.sleep(plan["warmup"])  # what follows covers the counted seconds only
    memory.phase = name
    before = server_histogram(base)
    cpu, (busy, total) = cpu_seconds(server.pid), machine_busy()
    database = postgres_cpu_seconds()
    wall = time.monotonic()
    result = running.result()
    wall = time.monotonic() - wall
    busy_after, total_after = machine_busy()
    result["server_cpu_s"] = round(cpu_seconds(server.pid) - cpu, 2)
    database = postgres_cpu_seconds() - database
    cores = os.cpu_count() or 1
    machine_cores = cores * (busy_after - busy) / (total_after - total)
    client_cores = result["client_cpu_s"] / (wall + plan["warmup"])
    result["cores_busy"] = {
        "server": round(result["server_cpu_s"] / wall, 2),
        "postgresql": round(database / wall, 2),
        "client": round(client_cores, 2),
        "machine": round(machine_cores, 2),
        "other": round(
            machine_cores - (result["server_cpu_s"] + database) / wall - client_cores, 2
        ),
    }
    after = server_histogram(base)
    result["server_side"] = {
        kind: histogram_between(before, after, ROUTES[kind]) for kind in result["routes"]
    }
    memory.phase = "idle"
    return result


@contextmanager
def routes_inline() -> Iterator[None]:
    """FastAPI's plain-function routes and dependencies run inline on the event loop's
    thread, not on its thread pool, so that a sampling profiler of that thread sees
    them."""
    import fastapi.dependencies.utils
    import fastapi.routing

    async def inline(call: Any, /, *args: Any, **kwargs: Any) -> Any:
        return call(*args, **kwargs)

    modules = (fastapi.routing, fastapi.dependencies.utils)
    pooled = [m.run_in_threadpool for m in modules]
    try:
        for module in modules:
            setattr(module, "run_in_threadpool", inline)  # noqa: B010
        yield
    finally:
        for module, original in zip(modules, pooled, strict=True):
            setattr(module, "run_in_threadpool", original)  # noqa: B010


def profile_checks(
    store: Store, targets: list[Target], tokens: dict[str, str], count: int, out: Path
) -> dict[str, Any]:
    """Where a check's time goes: ``count`` checks through the API's ASGI app in this
    thread under pyinstrument, the projector catching up after every
    ``PROFILE_BATCH`` of them (what the server's projector thread does, a page of
    checks at a time under load). First every unit is checked once, not profiled: the
    server's later phases find the units they check kept in memory. The routes'
    plain functions run inline, not on the thread pool, so that the sampling
    profiler sees them; uvicorn's own HTTP work is left out (the ``/healthz``
    baseline measures it)."""
    from pyinstrument import Profiler

    from ledger.entrypoints.api import create_app
    from ledger.entrypoints.serve import TOKEN_CACHE_S, Served

    served = Served(store, token_cache_s=TOKEN_CACHE_S)  # as `bloodledger serve` runs
    app = create_app(served.services)
    bodies = [t.body() for t in targets]

    async def checks(how_many: int) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://profile") as http:
            for n in range(how_many):
                body = bodies[n % len(bodies)]
                headers = {"Authorization": f"Bearer {tokens[body['facility']]}"}
                answer = await http.post(ROUTES[CHECK], json=body, headers=headers)
                if answer.status_code != 200:
                    raise RuntimeError(f"a profiled check answered {answer.status_code}")
                if n % PROFILE_BATCH == PROFILE_BATCH - 1:
                    served.models.projector.catch_up()
            served.models.projector.catch_up()

    try:
        with routes_inline():
            asyncio.run(checks(len(bodies)))  # every unit once: kept, as in the server
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        started = time.perf_counter()
        with routes_inline(), profiler:
            asyncio.run(checks(count))
        elapsed = time.perf_counter() - started
    finally:
        served.close()
    title = f"{count:,} checks in one thread, {elapsed / count * 1000:.2f} ms each profiled"
    tree = profiler.output_text(unicode=False, color=False)
    flat = profiler.output_text(unicode=False, color=False, flat=True, flat_time="total")
    out.write_text(f"{title}\n{tree}\nEach function's total time:\n{flat}")
    step(f"  {title} -> {out}")
    return {"checks": count, "ms_each_profiled": round(elapsed / count * 1000, 2), "file": out.name}


def _figures(name: str, phase: dict[str, Any]) -> str:
    parts = [f"{name}: {phase['per_s']:,.0f} req/s, {phase['errors']} errors"]
    for kind, route in phase["routes"].items():
        if route["requests"]:
            parts.append(f"{kind} p50 {route['p50_ms']} p99 {route['p99_ms']} ms")
    cores = phase["cores_busy"]
    parts.append(
        f"cores busy: server {cores['server']}, PostgreSQL {cores['postgresql']}, "
        f"client {cores['client']}, other {cores['other']}"
    )
    return "; ".join(parts)


def main() -> None:
    tune_garbage_collector()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="stored events, at least")
    parser.add_argument("--seconds", type=float, default=30.0, help="each phase, counted")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before counting")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--think-ms", default="0", help="pause after each answer, ms; a list runs each"
    )
    parser.add_argument("--read-share", type=float, default=0.25, help="history reads' share")
    parser.add_argument("--targets", type=int, default=5000, help="units to check, at most")
    parser.add_argument("--hospitals", type=int, default=20, help="the region's hospitals")
    parser.add_argument(
        "--donations-per-day", type=int, default=600, help="the region's daily collections"
    )
    parser.add_argument(
        "--http", choices=["raw", "httpx"], default="raw", help="the clients' HTTP/1.1 stack"
    )
    parser.add_argument(
        "--store", type=Path, help="keep the store, named in this file; reuse it if there"
    )
    parser.add_argument(
        "--serve-options", default="", help="more options of `bloodledger serve`, one string"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "api.json")
    parser.add_argument("--profile", type=int, default=0, help="then profile N checks")
    parser.add_argument("--profile-out", type=Path, default=RESULTS / "profile-api.txt")
    args = parser.parse_args()
    thinks = [float(t) for t in args.think_ms.split(",")]
    results: dict[str, Any] = {
        "machine": {**machine(), "note": "the clients, the server and PostgreSQL share the cores"},
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "client_http": args.http,
        "serve_options": args.serve_options,
        "mix": {"check": round(1 - args.read_share, 3), "history": args.read_share},
    }
    with bench_store(args.store) as (store, kept), tempfile.TemporaryDirectory() as work:
        region = Scale(hospitals=args.hospitals, donations_per_day=args.donations_per_day)
        if kept is None:
            step(f"filling a store of at least {args.events:,} events")
            models, results["store"] = fill(store, args.events, region)
        else:
            step(f"reusing the store of {args.store} ({store.redacted()})")
            models = open_read_models_of(store)
            models.projector.catch_up()
            results["store"] = {**kept["store"], "reused": True}
            return_to_shelves(models, kept["targets"], datetime.now(UTC) - timedelta(seconds=2))
        try:
            rows = _at_hospitals(models)
            hospitals = sorted({r["facility"] for r in rows})
            step(f"crossmatching and dispensing up to {args.targets:,} units to check")
            targets = prepare_targets(models, rows, args.targets, datetime.now(UTC))
            chance = random.Random(7)
            at_hospitals = sorted({(r["din"], r["facility"]) for r in rows})
            reads = chance.sample(at_hospitals, min(5000, len(at_hospitals)))
            results["targets"] = {
                "units": len(targets),
                "hospitals": len({t.facility for t in targets}),
                "answer_in_process": "ALLOW",
            }
            results["history_dins"] = len(reads)
            results["realistic_pace"] = realistic_pace(models)
            results["store"]["events_with_targets"] = models.ledger.event_log.head()
            del rows
        finally:
            models.close()
        if args.store is not None:
            built = {k: v for k, v in results["store"].items() if k != "reused"}
            state = {"url": store.url, "store": kept["store"] if kept else built,
                     "targets": [t.body() for t in targets]}  # fmt: skip
            args.store.write_text(json.dumps(state) + "\n")
        run_id = uuid.uuid4().hex[:6]  # token names are never reused: one set per run
        with open_access(store) as access:
            tokens = {
                fin: access.control.create(f"bench-clinician-{fin}-{run_id}", "clinician", fin)
                for fin in hospitals
            }
        step(f"{len(targets):,} units to check at {results['targets']['hospitals']} hospitals; "
             "starting the server")  # fmt: skip
        log = Path(work) / "server.log"
        spawn = get_context("spawn")
        with (
            serving(store, log, shlex.split(args.serve_options)) as (base, server),
            MemorySampler(server.pid) as memory,
            ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool,
        ):
            plan: dict[str, Any] = {
                "base": base,
                "clients": args.clients,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "http": args.http,
                "read_share": args.read_share,
                "targets": [t.body() for t in targets],
                "reads": reads,
                "tokens": tokens,
            }
            pool.submit(time.sleep, 0).result()  # the client process, started
            runs = []
            for think in thinks:
                run: dict[str, Any] = {"think_ms": think}
                for name, kind in (("baseline", HEALTHZ), ("measured", "mix")):
                    step(f"think {think:g} ms: {name}, {args.clients} clients, "
                         f"{args.warmup:g} + {args.seconds:g} s")  # fmt: skip
                    phase_plan = {**plan, "kind": kind, "think_ms": think}
                    label = "measure" if kind == "mix" else "baseline"
                    run[name] = run_phase(
                        pool, phase_plan, server, base, memory, f"{label}-{think:g}"
                    )
                    step("  " + _figures(name, run[name]))
                runs.append(run)
            results["runs"] = runs
        results["server_memory"] = memory.report()
        server_log = log.read_text(errors="replace").splitlines()
        troubles = [line for line in server_log if " WARNING " in line or " ERROR " in line]
        results["server_log"] = {"lines": len(server_log), "warnings_and_errors": len(troubles)}
        if troubles:
            step("the server's warnings and errors:\n" + "\n".join(troubles[-20:]))
        if args.profile:
            step(f"profiling {args.profile:,} checks in-process")
            results["profile"] = profile_checks(
                store, targets, tokens, args.profile, args.profile_out
            )
    results["targets_met"] = _verdict(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    summary = {k: v for k, v in results.items() if k != "server_memory"}
    summary["server_memory"] = {
        k: v for k, v in results["server_memory"].items() if k != "timeline"
    }
    print(json.dumps(summary, indent=2))


def _verdict(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, for each think time: check p99 <= 25 ms, no errors; memory flat."""
    verdicts: dict[str, Any] = {"server_memory_flat": results["server_memory"].get("flat")}
    for run in results["runs"]:
        check = run["measured"]["routes"].get(CHECK, {})
        verdicts[f"think_{run['think_ms']:g}_ms"] = {
            "check_p99_ms": check.get("p99_ms"),
            "check_p99_within_25_ms": check.get("p99_ms", math.inf) <= TARGET_P99_MS,
            "zero_errors": run["measured"]["errors"] == 0 and run["baseline"]["errors"] == 0,
        }
    return verdicts


if __name__ == "__main__":
    main()
