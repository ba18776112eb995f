"""The pages people read in a browser: each page's server time, beside ``/healthz``.

    python -m benchmarks.pages [--store FILE] [--events 1000000] [--requests 200]
        [--clients 4] [--seconds 20] [--warmup-rounds 3] [--hospitals 20]
        [--donations-per-day 600] [--serve-options '...'] [--pages unit,inventory,...]
        [--out benchmarks/results/pages.json] [--before EARLIER.json] [--profile N]
        [--profile-out benchmarks/results/profile-pages.txt]

1. **The store**: the one :mod:`benchmarks.api` builds — a PostgreSQL schema of at
   least ``--events`` stored events, the demo generator's region of ``--hospitals``
   hospitals and ``--donations-per-day`` collections, projected — made by its own
   :func:`~benchmarks.api.fill`; with ``--store FILE`` one a run of either benchmark
   kept is reused (this benchmark only reads it, and signs in), else a new one is kept
   and named there in the same form. On a PostgreSQL running without autovacuum its
   tables are vacuumed and analysed first (:func:`vacuumed`), as a server in service
   keeps them.
2. **The questions**, drawn from the read models with a fixed seed: DINs (an
   investigator's from every unit; a clinician's from the units that reached its
   hospital, the one holding the most), "as of" moments within each donation's first
   week, "known at" moments while its facts were being recorded, donors, patients,
   transfused DINs, lookback cases, the facilities, and past moments of the inventory
   in the last 30 days.
3. **The server**: ``bloodledger serve`` in a process of its own
   (:func:`~benchmarks.api.serving`); an investigator and a clinician of that
   hospital each sign in once, as a person does (the ``/login`` form, its CSRF token,
   then the session cookie), in Chinese (no ``Accept-Language``: the default).
4. **Sequential**: one client (a keep-alive HTTP/1.1 connection of
   :class:`~benchmarks.api.RawConnection`), ``--requests`` requests of each page in
   rounds — each round every page once, in a shuffled order, ``/healthz`` among them
   — the first ``--warmup-rounds`` rounds not counted. One request at a time: what
   the server takes for a page, alone. **Concurrent**: ``--clients`` such clients for
   ``--seconds``, each asking for pages at random: the same pages while others are
   being answered.
5. Each page's latency (from sending the request to its whole answer read, on
   localhost: the server's time plus the client's few tenths of a millisecond, which
   ``/healthz`` measures) as p50/p90/p99/max, its errors (any status but 200) and its
   size; the server's own histogram (``/metrics``, by route template) over each phase;
   and the machine's load average before and after it (other work on a shared machine
   shows there). With ``--profile N``, afterwards, N requests of each page in-process
   under pyinstrument (:func:`profile_pages`); ``--requests 0 --clients 0`` profiles
   alone.

The report pages themselves (``/reports/{kind}``: charts, PDF) are made offline-speed
and measured by :mod:`benchmarks.reports`; ``/reports`` here is the page of forms.

Results to ``--out`` (JSON; with ``--before``, an earlier run's per-page figures beside
them), progress to stderr. The client, the server and PostgreSQL
share the machine's cores (and, on a shared machine, with whatever else runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shlex
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from psycopg import sql

from benchmarks.api import (
    RawConnection,
    _at_hospitals,
    _latencies,
    bench_store,
    fill,
    histogram_between,
    routes_inline,
    server_histogram,
    serving,
    step,
)
from benchmarks.machine import RESULTS, machine
from benchmarks.workload import Scale
from ledger.adapters.persistence import Store
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.bootstrap import ReadModels, open_access, open_read_models_of
from ledger.domain.instants import from_ms
from ledger.entrypoints.runtime import tune_garbage_collector

#: The p99 the issue asks of every page, in milliseconds.
TARGET_P99_MS = 100.0
INVESTIGATOR, CLINICIAN = "investigator", "clinician"
HEALTHZ = "healthz"
#: How many of each kind of question are drawn (each page cycles through its own).
DRAWN = 200
#: The slowest pages whose call trees the profile keeps.
PROFILES_KEPT = 5


@dataclass(frozen=True)
class Page:
    """One kind of page request: who asks, the route template it is counted under,
    and the requests themselves (paths, and whether htmx asks for the fragment)."""

    name: str
    role: str | None
    route: str
    paths: tuple[str, ...]
    fragment: bool = False

    def request(self, turn: int) -> str:
        return self.paths[turn % len(self.paths)]


def _query(path: str, **params: str) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _moment(at_ms: int) -> str:
    """An instant as a page's link writes it (UTC, ``Z``)."""
    moment = from_ms(at_ms)
    assert moment is not None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the questions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Questions:
    """What the pages are asked, drawn from the read models."""

    hospital: str
    pages: list[Page]
    drawn: dict[str, int]


def draw_questions(models: ReadModels, now: datetime, seed: int = 14) -> Questions:
    """Every page's requests, ``DRAWN`` of a kind where there are as many."""
    chance = random.Random(seed)
    view = models.view
    units = view.table_rows("units")
    donations = {r["din"]: r for r in view.table_rows("donations")}
    transfusions = view.table_rows("transfusions")
    at_hospitals = _at_hospitals(models)
    by_hospital = Counter(r["facility"] for r in at_hospitals)
    hospital = by_hospital.most_common(1)[0][0]

    def sample(values: Sequence[Any], count: int = DRAWN) -> list[Any]:
        ordered = sorted(set(values))
        return chance.sample(ordered, min(count, len(ordered)))

    dins = sample([r["din"] for r in units if r["din"] in donations])
    own_dins = sample([r["din"] for r in at_hospitals if r["facility"] == hospital])
    collected = {d: donations[d]["collected_at"] for d in dins}

    def within_first_week(din: str) -> str:
        start = collected[din] or 0
        return _moment(start + chance.randrange(3_600_000, 7 * 86_400_000))

    def while_recorded(din: str) -> str:
        """A moment between the ledger's knowing the donation and a unit of it and its
        last recording of their facts (it then knew some of them: a store is recorded
        in minutes, not as lived)."""
        units = models.ledger.units_of(din)
        donation = min(f.timestamp for f in units[0].donation_facts)
        first = max(donation, min(f.timestamp for u in units for f in u.unit.facts))
        last = max(f.timestamp for u in units for f in u.facts)
        return (first + (last - first) * chance.random()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    donors = sample([r["donor_id"] for r in donations.values() if r["donor_id"]])
    patients = sample([r["patient_id"] for r in transfusions])
    transfused = sample([r["din"] for r in transfusions])
    cases = sample(view.case_ids())
    centres = view.centres()
    facilities = sorted({r["facility"] for r in units if r["facility"]})
    hospitals = [f for f in facilities if f not in centres]
    now_ms = int(now.timestamp() * 1000)
    past = [_moment(now_ms - chance.randrange(3_600_000, 30 * 86_400_000)) for _ in range(DRAWN)]
    pasts_of = [(chance.choice(facilities), moment) for moment in past]

    def page(
        name: str, role: str | None, route: str, paths: Sequence[str], fragment: bool = False
    ) -> Page:
        if not paths:
            raise RuntimeError(f"the store holds nothing to ask the {name} page about")
        return Page(name, role, route, tuple(paths), fragment)

    unit, trace, inventory, alerts = "/units/{din}", "/trace", "/inventory", "/alerts"
    pages = [
        page("unit", INVESTIGATOR, unit, [f"/units/{d}" for d in dins]),
        page("unit_as_of", INVESTIGATOR, unit,
             [_query(f"/units/{d}", as_of=within_first_week(d)) for d in dins]),
        page("unit_known_at", INVESTIGATOR, unit,
             [_query(f"/units/{d}", known_at=while_recorded(d)) for d in dins]),
        page("trace_donor", INVESTIGATOR, trace, [_query(trace, donor=d) for d in donors]),
        page("trace_patient", INVESTIGATOR, trace, [_query(trace, patient=p) for p in patients]),
        page("trace_din", INVESTIGATOR, trace, [_query(trace, din=d) for d in transfused]),
        page("inventory_all", INVESTIGATOR, inventory, [inventory]),
        page("inventory_facility", INVESTIGATOR, inventory,
             [_query(inventory, facility=f) for f in facilities]),
        page("inventory_past_all", INVESTIGATOR, inventory,
             [_query(inventory, as_of=m) for m in past]),
        page("inventory_past_facility", INVESTIGATOR, inventory,
             [_query(inventory, facility=f, as_of=m) for f, m in pasts_of]),
        page("inventory_fragment_past_all", INVESTIGATOR, inventory,
             [_query(inventory, as_of=m) for m in past], fragment=True),
        page("alerts", INVESTIGATOR, alerts, [alerts]),
        page("alerts_fragment", INVESTIGATOR, alerts, [alerts], fragment=True),
        page("lookbacks", INVESTIGATOR, "/lookbacks", ["/lookbacks"]),
        page("lookback", INVESTIGATOR, "/lookbacks/{case_id}",
             [f"/lookbacks/{c}" for c in cases]),
        page("reports", INVESTIGATOR, "/reports", ["/reports"]),
        page("clinician_unit", CLINICIAN, unit, [f"/units/{d}" for d in own_dins]),
        page("clinician_inventory", CLINICIAN, inventory, [inventory]),
        page("clinician_inventory_past", CLINICIAN, inventory,
             [_query(inventory, as_of=m) for m in past]),
        page("clinician_alerts", CLINICIAN, alerts, [alerts]),
        page("clinician_reports", CLINICIAN, "/reports", ["/reports"]),
        page(HEALTHZ, None, "/healthz", ["/healthz"]),
    ]  # fmt: skip
    drawn = {
        "dins": len(dins),
        "clinician_dins": len(own_dins),
        "donors": len(donors),
        "patients": len(patients),
        "transfused_dins": len(transfused),
        "cases": len(cases),
        "facilities": len(facilities),
        "hospitals": len(hospitals),
        "centres": len(centres),
        "past_moments": len(past),
    }
    return Questions(hospital, pages, drawn)


# -- signing in ------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def sign_in(base: str, token: str) -> str:
    """The session cookie a person gets by signing in with ``token`` (the form's CSRF
    token and the sign-in cookie it goes with, then the token)."""
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/login")
        found = _CSRF.search(form.text)
        if form.status_code != 200 or found is None:
            raise RuntimeError(f"the sign-in form answered {form.status_code}")
        signed = http.post("/login", data={"token": token, "csrf": found.group(1), "next": "/"})
        cookie = http.cookies.get("bl_session")
        if signed.status_code != 303 or cookie is None:
            raise RuntimeError(f"signing in answered {signed.status_code}, no session")
        return str(cookie)


def _headers(page: Page, cookies: Mapping[str, str]) -> dict[str, str]:
    headers = {"Cookie": f"bl_session={cookies[page.role]}"} if page.role else {}
    if page.fragment:
        headers["HX-Request"] = "true"
    return headers


# -- the clients ----------------------------------------------------------------------------

#: (page, status — or the exception's name when none came —, latency ms, bytes) of one
#: request.
Sample = tuple[str, int | str, float, int]


async def _ask(http: RawConnection, page: Page, turn: int, cookies: Mapping[str, str]) -> Sample:
    started = time.perf_counter()
    status: int | str
    try:
        status, answer = await http.send("GET", page.request(turn), None, None,
                                         _headers(page, cookies))  # fmt: skip
    except Exception as error:
        status, answer = type(error).__name__, b""
    return page.name, status, (time.perf_counter() - started) * 1000, len(answer)


async def sequential(
    base: str, pages: Sequence[Page], cookies: Mapping[str, str], rounds: int, warmup: int
) -> list[Sample]:
    """``warmup + rounds`` rounds of every page once, one request at a time, each round
    in its own shuffled order; the counted rounds' samples."""
    chance = random.Random(5)
    samples: list[Sample] = []
    async with RawConnection(base) as http:
        for turn in range(warmup + rounds):
            order = list(pages)
            chance.shuffle(order)
            for page in order:
                sample = await _ask(http, page, turn, cookies)
                if turn >= warmup:
                    samples.append(sample)
            if turn % 50 == 49:
                step(f"  {turn + 1} of {warmup + rounds} rounds")
    return samples


async def concurrent(
    base: str, pages: Sequence[Page], cookies: Mapping[str, str], clients: int, seconds: float
) -> list[Sample]:
    """``clients`` clients asking for pages at random for ``seconds`` (after a second
    not counted)."""
    counting = time.perf_counter() + 1.0
    deadline = counting + seconds
    samples: list[Sample] = []

    async def client(index: int) -> None:
        chance = random.Random(100 + index)
        async with RawConnection(base) as http:
            turn = 0
            while (started := time.perf_counter()) < deadline:
                sample = await _ask(http, chance.choice(pages), turn, cookies)
                turn += 1
                if started >= counting:
                    samples.append(sample)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return samples


def summary(
    samples: Sequence[Sample],
    pages: Sequence[Page],
    before: dict[str, dict[str, float]],
    after: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """Each page's latencies, errors and size; the server's own histogram by route."""
    found: dict[str, Any] = {}
    for page in pages:
        own = [s for s in samples if s[0] == page.name]
        statuses = Counter(str(status) for _, status, _, _ in own)
        found[page.name] = {
            "route": page.route,
            "role": page.role,
            "example": page.paths[0],
            "fragment": page.fragment,
            **_latencies([latency for _, _, latency, _ in own]),
            "errors": sum(1 for _, status, _, _ in own if status != 200),
            "statuses": dict(statuses),
            "kb_mean": round(sum(size for *_, size in own) / max(1, len(own)) / 1024, 1),
        }
    routes = sorted({page.route for page in pages})
    server = {route: histogram_between(before, after, route, within_s=0.1) for route in routes}
    return {"requests": len(samples), "pages": found, "server_side": server}


# -- profiling ---------------------------------------------------------------------------------


def profile_pages(
    store: Store, pages: Sequence[Page], tokens: Mapping[str, str], count: int, out: Path
) -> dict[str, Any]:
    """Where each page's time goes: ``count`` requests of each page through the app's
    ASGI interface in this thread under pyinstrument (routes inline,
    :func:`~benchmarks.api.routes_inline`), one profile per page; the file holds every
    page's time and the :data:`PROFILES_KEPT` slowest pages' call trees."""
    from pyinstrument import Profiler

    from ledger.entrypoints.api import create_app
    from ledger.entrypoints.serve import Served

    served = Served(store)
    app = create_app(served.services)
    reports: list[tuple[float, str]] = []
    timings: dict[str, float] = {}

    async def ask(http: httpx.AsyncClient, page: Page, cookie: Mapping[str, str]) -> None:
        for n in range(count):
            headers = _headers(page, cookie)
            answer = await http.get(page.request(n), headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"a profiled {page.name} page answered {answer.status_code}")

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://profile") as http:
            cookies = {role: await _sign_in_asgi(http, token) for role, token in tokens.items()}
            for page in pages:
                await ask(http, page, cookies)  # warm: templates compiled, caches filled
                profiler = Profiler(interval=0.0005, async_mode="disabled")
                started = time.perf_counter()
                with profiler:
                    await ask(http, page, cookies)
                each = (time.perf_counter() - started) / count * 1000
                timings[page.name] = round(each, 2)
                tree = profiler.output_text(unicode=False, color=False)
                reports.append((each, f"== {page.name}: {each:.2f} ms each profiled\n{tree}"))

    try:
        with routes_inline():
            asyncio.run(run())
    finally:
        served.close()
    reports.sort(reverse=True)
    every = "\n".join(f"{name:<28} {each:8.2f} ms" for name, each in timings.items())
    slowest = "\n".join(text for _, text in reports[:PROFILES_KEPT])
    out.write_text(f"Each page, ms a request profiled:\n{every}\n\n{slowest}")
    step(f"  {len(pages)} pages profiled, {count} requests each -> {out}")
    return {"requests_each": count, "ms_each_profiled": timings, "file": out.name}


async def _sign_in_asgi(http: httpx.AsyncClient, token: str) -> str:
    form = await http.get("/login")
    found = _CSRF.search(form.text)
    assert found is not None, "no CSRF token in the sign-in form"
    await http.post("/login", data={"token": token, "csrf": found.group(1), "next": "/"})
    cookie = http.cookies.get("bl_session")
    assert cookie is not None, "signing in gave no session"
    http.cookies.clear()  # each request names its own session
    return str(cookie)


# -- one run ---------------------------------------------------------------------------------


@contextmanager
def _open_store(
    args: argparse.Namespace, results: dict[str, Any]
) -> Iterator[tuple[Store, ReadModels]]:
    """The store to ask (built, or the one ``--store`` names), caught up."""
    region = Scale(hospitals=args.hospitals, donations_per_day=args.donations_per_day)
    with bench_store(args.store) as (store, kept):
        if kept is None:
            step(f"filling a store of at least {args.events:,} events")
            models, results["store"] = fill(store, args.events, region)
            if args.store is not None:  # as benchmarks.api keeps one (no units dispensed)
                state = {"url": store.url, "store": results["store"], "targets": []}
                args.store.write_text(json.dumps(state) + "\n")
        else:
            step(f"reusing the store of {args.store} ({store.redacted()})")
            models = open_read_models_of(store)
            models.projector.catch_up()
            results["store"] = {**kept["store"], "reused": True}
        results["store"]["events_now"] = models.ledger.event_log.head()
        results["store"]["vacuumed"] = vacuumed(store)
        yield store, models


def vacuumed(store: Store) -> list[str]:
    """``VACUUM ANALYZE`` the store's tables if this PostgreSQL runs without autovacuum
    (its tables then keep every dead row a rebuild or a projection left, and their
    statistics as the last one left them: not a server in service); the tables done."""
    if not isinstance(store, PostgresStore):
        return []
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        setting = conn.execute("SHOW autovacuum").fetchone()
        if setting is not None and setting[0] == "on":
            return []
        found = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
            (store.schema,),
        ).fetchall()
        tables = [row[0] for row in found]
        step(f"  autovacuum is off: VACUUM ANALYZE of {len(tables)} tables")
        for table in tables:
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(store.schema, table)))
    return tables


def _figures(pages: Mapping[str, Any]) -> str:
    lines = [
        f"    {name:<28} p50 {p['p50_ms']:>7.1f}  p99 {p['p99_ms']:>7.1f}  max {p['max_ms']:>7.1f}"
        f" ms  {p['kb_mean']:>6.1f} KB  {p['errors']} errors"
        for name, p in pages.items()
        if p["requests"]
    ]
    return "\n".join(lines)


def _verdict(results: dict[str, Any]) -> dict[str, Any]:
    """Each page's sequential p99 against the target (and with concurrent clients)."""
    verdicts: dict[str, Any] = {}
    for name, page in results.get("sequential", {}).get("pages", {}).items():
        if name == HEALTHZ:
            continue
        crowded = results.get("concurrent", {}).get("pages", {}).get(name, {})
        verdicts[name] = {
            "p99_ms": page.get("p99_ms"),
            "within_100_ms": page.get("p99_ms", float("inf")) <= TARGET_P99_MS
            and page["errors"] == 0,
            "concurrent_p99_ms": crowded.get("p99_ms"),
        }
    verdicts["every_page"] = all(v["within_100_ms"] for v in verdicts.values())
    return verdicts


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            **machine(),
            "note": "the client, the server and PostgreSQL share the cores, on a machine "
            "other work shares too",
        },
        "target_p99_ms": TARGET_P99_MS,
        "rounds": args.requests,
        "warmup_rounds": args.warmup_rounds,
        "serve_options": args.serve_options,
    }
    with tempfile.TemporaryDirectory() as work, _open_store(args, results) as (store, models):
        try:
            questions = draw_questions(models, datetime.now(UTC))
        finally:
            models.close()
        pages = questions.pages
        if args.pages:
            chosen = set(args.pages.split(",")) | {HEALTHZ}
            pages = [p for p in pages if p.name in chosen]
        results["questions"] = {"clinician_hospital": questions.hospital, **questions.drawn}
        run_id = uuid.uuid4().hex[:6]
        with open_access(store) as access:
            tokens = {
                INVESTIGATOR: access.control.create(f"bench-pages-inv-{run_id}", INVESTIGATOR),
                CLINICIAN: access.control.create(
                    f"bench-pages-cli-{run_id}", CLINICIAN, questions.hospital
                ),
            }
        step(f"{len(pages)} pages; starting the server")
        log = Path(work) / "server.log"
        with serving(store, log, shlex.split(args.serve_options)) as (base, _):
            cookies = {role: sign_in(base, token) for role, token in tokens.items()}
            _check_pages(base, pages, cookies)
            if args.requests:
                step(f"sequential: {args.warmup_rounds} + {args.requests} rounds of every page")
                before, load = server_histogram(base), os.getloadavg()
                samples = asyncio.run(
                    sequential(base, pages, cookies, args.requests, args.warmup_rounds)
                )
                results["sequential"] = summary(samples, pages, before, server_histogram(base))
                results["sequential"]["load_average"] = _load(load)
                step("sequential, one client:\n" + _figures(results["sequential"]["pages"]))
            if args.clients:
                step(f"concurrent: {args.clients} clients, {args.seconds:g} s")
                before, load = server_histogram(base), os.getloadavg()
                samples = asyncio.run(concurrent(base, pages, cookies, args.clients, args.seconds))
                phase = summary(samples, pages, before, server_histogram(base))
                phase["load_average"] = _load(load)
                results["concurrent"] = {"clients": args.clients, "seconds": args.seconds,
                                         "per_s": round(len(samples) / args.seconds, 1),
                                         **phase}  # fmt: skip
                step(f"concurrent, {args.clients} clients:\n" + _figures(phase["pages"]))
        results["server_log"] = _troubles(log)
        if args.profile:
            step(f"profiling {args.profile} requests of each page in-process")
            results["profile"] = profile_pages(
                store, [p for p in pages if p.role], tokens, args.profile, args.profile_out
            )
    results["targets_met"] = _verdict(results)
    return results


def earlier(results: Mapping[str, Any]) -> dict[str, Any]:
    """An earlier run's figures, each page's p50/p99/max of each phase, and what it ran on."""
    kept: dict[str, Any] = {"store": results.get("store"), "recorded": results.get("recorded")}
    for phase in ("sequential", "concurrent"):
        pages = results.get(phase, {}).get("pages", {})
        kept[phase] = {
            name: {k: page.get(k) for k in ("requests", "p50_ms", "p99_ms", "max_ms", "errors")}
            for name, page in pages.items()
        }
        kept[phase]["load_average"] = results.get(phase, {}).get("load_average")
    return kept


def _load(before: tuple[float, float, float]) -> dict[str, Any]:
    """The machine's 1-minute load average before and after a phase (2 cores: a load
    above 2 is other work waiting beside this benchmark's)."""
    return {"before": round(before[0], 2), "after": round(os.getloadavg()[0], 2),
            "cores": os.cpu_count()}  # fmt: skip


def _troubles(log: Path) -> dict[str, Any]:
    """How many lines the server logged, and its warnings and errors (the last shown)."""
    lines = log.read_text(errors="replace").splitlines()
    troubles = [line for line in lines if " WARNING " in line or " ERROR " in line]
    if troubles:
        step("the server's warnings and errors:\n" + "\n".join(troubles[-20:]))
    return {"lines": len(lines), "warnings_and_errors": len(troubles)}


def _check_pages(base: str, pages: Sequence[Page], cookies: Mapping[str, str]) -> None:
    """Every page answers 200 to its first request (a sign-in redirect, a 403 or a 500
    would measure nothing)."""
    with httpx.Client(base_url=base, timeout=60) as http:
        for page in pages:
            answer = http.get(page.request(0), headers=_headers(page, cookies))
            if answer.status_code != 200:
                raise RuntimeError(f"the {page.name} page answered {answer.status_code}")


def main(argv: Sequence[str] | None = None) -> None:
    tune_garbage_collector()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="stored events, at least")
    parser.add_argument(
        "--store", type=Path, help="keep the store, named in this file; reuse it if there"
    )
    parser.add_argument("--requests", type=int, default=200, help="counted requests of a page")
    parser.add_argument("--warmup-rounds", type=int, default=3, help="rounds not counted")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (0: none)")
    parser.add_argument("--seconds", type=float, default=20.0, help="the concurrent phase")
    parser.add_argument("--hospitals", type=int, default=20, help="the region's hospitals")
    parser.add_argument(
        "--donations-per-day", type=int, default=600, help="the region's daily collections"
    )
    parser.add_argument(
        "--serve-options", default="", help="more options of `bloodledger serve`, one string"
    )
    parser.add_argument("--pages", default="", help="only these pages (names, comma-separated)")
    parser.add_argument("--out", type=Path, default=RESULTS / "pages.json")
    parser.add_argument(
        "--before", type=Path, help="an earlier run's results: its figures set beside these"
    )
    parser.add_argument("--profile", type=int, default=0, help="then profile N of each page")
    parser.add_argument("--profile-out", type=Path, default=RESULTS / "profile-pages.txt")
    args = parser.parse_args(argv)
    results = run(args)
    if args.before is not None:
        results["before"] = earlier(json.loads(args.before.read_text()))
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results["targets_met"], indent=2))


if __name__ == "__main__":
    main()
