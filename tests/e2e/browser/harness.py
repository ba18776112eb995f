"""What the browser tests stand on: a demo region in a store, ``bloodledger serve`` on it,
and what a person's visit to a page leaves behind (a screenshot, an accessibility check).

The region is the demo's own stream (:func:`simulator.generate`), recorded with the
ledger's own functions into a protected SQLite store and projected before the server
starts, so the server is ready at once and every page shows what ``make demo`` shows.
Nothing here reaches the network: the browser is Debian's ``chromium`` and axe-core is
the copy vendored beside this module (``vendor/``, checked against its recorded digest).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_access, open_read_models_of
from ledger.domain.facts import ReportedFact
from ledger.domain.identity import IdentityKey, generate_master_key
from ledger.domain.vocabulary import EventType
from ledger.entrypoints import documents
from ledger.entrypoints.runtime import CIPHER_KEY_ENV
from simulator import DemoConfig, DemoStream, generate

#: Debian's browser (``apt-get install chromium``); Playwright drives it, never downloads one.
CHROMIUM = Path("/usr/bin/chromium")
VENDOR = Path(__file__).resolve().parent / "vendor"
AXE = VENDOR / "axe.min.js"
#: The SHA-256 of ``vendor/axe.min.js`` as unpacked from the npm tarball (vendor/README.md).
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
#: Impacts that fail a page (axe's scale: minor, moderate, serious, critical).
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
REPO = Path(__file__).resolve().parents[3]
ARTIFACTS_ENV = "BLOODLEDGER_ARTIFACTS"
#: Why the investigator's lookback is opened (free text, as a person types it).
INVESTIGATION = "recipient reaction under investigation"

#: token name -> (role, whether it is bound to a facility: the first hospital). The
#: investigator sees everything (donors too); the clinician its own hospital only.
ROLES: dict[str, tuple[str, bool]] = {
    "investigator": ("investigator", False),
    "clinician": ("clinician", True),
}


def artefacts_dir() -> Path:
    """Where screenshots and the server's log go: ``$BLOODLEDGER_ARTIFACTS`` or
    ``build/test-artifacts/browser`` in the repository (``build/`` is ignored by git)."""
    chosen = os.environ.get(ARTIFACTS_ENV)
    folder = Path(chosen) if chosen else REPO / "build" / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def axe_source() -> Path:
    """The vendored axe-core, refused if it is not the file that was vendored."""
    digest = hashlib.sha256(AXE.read_bytes()).hexdigest()
    if digest != AXE_SHA256:
        raise AssertionError(f"{AXE} is not the vendored axe-core (sha256 {digest})")
    return AXE


# -- the demo region -------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """A store holding the demo stream, and what the tests look for in it."""

    store: str
    key: str
    stream: DemoStream
    #: The moment of the stream's last fact: the "as of" the pages are asked at.
    last: datetime
    case_ids: tuple[str, ...]
    #: token name (a key of ROLES) -> the token, and the facility it acts for.
    tokens: dict[str, str]
    facility_of: dict[str, str | None]

    @property
    def hospital(self) -> str:
        return self.stream.hospitals[0]

    def flagged(self, flag: str) -> str:
        """The DIN of a unit the stream planted ``flag`` on."""
        return self.stream.injected[flag][0][0]

    def people(self) -> set[str]:
        """Every donor and patient identifier the stream names."""
        kinds = ("donor_id", "patient_id", "intended_patient_id")
        return {str(f.payload[k]) for f in self.stream.facts for k in kinds if f.payload.get(k)}

    def late_arrival(self) -> tuple[str, str, str]:
        """``(din, product_code, event_id)`` of a fact published after a fact of the same
        unit's history (its donation's facts and its own) that happened later than it:
        what the unit page must mark late. Found from the publication order alone."""
        histories: dict[tuple[str, str], list[ReportedFact]] = {}
        units_of: dict[str, list[tuple[str, str]]] = {}
        donation_facts: dict[str, list[ReportedFact]] = {}
        seen: set[str] = set()
        for fact in self.stream.facts:  # publication order, re-sends skipped
            if fact.event_id in seen:
                continue
            seen.add(fact.event_id)
            if fact.is_donation_level or fact.product_code is None:
                donation_facts.setdefault(fact.din, []).append(fact)
                for unit in units_of.get(fact.din, []):
                    histories[unit].append(fact)
            else:
                unit = (fact.din, fact.product_code)
                if unit not in histories:
                    histories[unit] = list(donation_facts.get(fact.din, []))
                    units_of.setdefault(fact.din, []).append(unit)
                histories[unit].append(fact)
        for (din, product), history in sorted(histories.items()):
            latest: datetime | None = None
            for fact in history:
                if latest is not None and fact.occurred_at < latest:
                    return din, product, fact.event_id
                latest = fact.occurred_at if latest is None else max(latest, fact.occurred_at)
        raise AssertionError("the demo stream has no late arrival in any unit's history")


def build_region(folder: Path, config: DemoConfig | None = None) -> Region:
    """The demo stream recorded into a protected SQLite store in ``folder``, its read
    models projected (the ledger's automatic lookbacks opened, and one an investigator
    opens on the donor most transfused), and a token per role."""
    stream = generate(config or DemoConfig())
    key = generate_master_key()
    url = f"sqlite:///{folder / 'region.db'}"
    facts = list(stream.facts)
    with open_read_models_of(store_for(url), identity_key=IdentityKey(key)) as models:
        for start in range(0, len(facts), 2000):
            models.ledger.record(facts[start : start + 2000])
        models.projector.catch_up()
        last = max(f.occurred_at for f in stream.facts)
        documents.open_lookback(models, _most_given_donor(stream), INVESTIGATION, last)
        models.projector.catch_up()
        case_ids = tuple(sorted(models.view.case_ids()))
    tokens: dict[str, str] = {}
    facility_of: dict[str, str | None] = {}
    with open_access(store_for(url), identity_key=IdentityKey(key), create=False) as access:
        for name, (role, bound) in ROLES.items():
            facility_of[name] = stream.hospitals[0] if bound else None
            tokens[name] = access.control.create(name, role, facility_of[name])
    return Region(url, key, stream, last, case_ids, tokens, facility_of)


def _most_given_donor(stream: DemoStream) -> str:
    """The donor whose donations were transfused to the most patients: the lookback
    an investigator opens on them has recipients to notify."""
    donor_of = {
        f.din: str(f.payload["donor_id"])
        for f in stream.facts
        if f.event_type == EventType.DonationCollected and f.payload.get("donor_id")
    }
    given = Counter(
        donor_of[f.din]
        for f in stream.facts
        if f.event_type == EventType.TransfusionStarted and f.din in donor_of
    )
    return min(given, key=lambda donor: (-given[donor], donor))


# -- the server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _without_operator_settings() -> dict[str, str]:
    """This environment less any ``BLOODLEDGER_*`` an operator exported: the server the
    tests start is configured by its arguments alone."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BLOODLEDGER_")}


class Server:
    """``bloodledger serve`` on a region's store, as an operator starts it, its output
    kept in a log file (read by the test that no identifier reaches it)."""

    def __init__(self, region: Region, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._output = log.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger.entrypoints.cli", "serve",
             "--store", region.store, "--port", str(self.port)],
            stdout=self._output, stderr=subprocess.STDOUT, text=True,
            env={**_without_operator_settings(), CIPHER_KEY_ENV: region.key,
                 "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 60) -> None:
        """Until ``/readyz`` says the read models are at the head of the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text('utf-8')}")
            try:
                ready = httpx.get(f"{self.url}/readyz", timeout=2)
                if ready.status_code == 200 and ready.json()["projection_lag"] == 0:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve was not ready in {timeout} s: {self.log.read_text('utf-8')}")

    def api(self, token: str, path: str, **params: str) -> Any:
        """A JSON answer of the API, as the same token's bearer sees it."""
        answer = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._output.close()


# -- a visit ---------------------------------------------------------------------------


class Visit:
    """What a page did that a person would notice as broken: a script error, a console
    error, an asset that failed, or a request leaving the server (hospital networks are
    closed: every asset ships inside the package)."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("request", self._request)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium also logs each error status as "Failed to load resource", the page's
        # own too (a refused sign-in answers 401): _response judges those.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def _request(self, request: Request) -> None:
        if not request.url.startswith((self.origin, "data:", "blob:", "about:")):
            self.problems.append(f"request outside the server: {request.url}")

    def _response(self, response: Response) -> None:
        wanted_page = response.request.resource_type == "document"
        if response.status >= 400 and not wanted_page:
            self.problems.append(f"{response.status} for {response.url}")

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def screenshot(page: Page, name: str) -> Path:
    """The whole page as a person scrolling it would see it, kept as a test artefact."""
    path = artefacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it stands (every rule axe runs by default).

    axe is evaluated in the page through the DevTools protocol rather than added as a
    ``<script>`` element: the pages' Content-Security-Policy (``script-src 'self'``)
    rightly refuses an inline script, and is left on so that a page's own script it
    refuses shows up as a console error."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source().read_text("utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return found


def blocking(violations: list[dict[str, Any]]) -> list[str]:
    """Each serious or critical violation: its rule, what it asks and where it fails."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in violations
        if v.get("impact") in BLOCKING_IMPACTS
    ]


def assert_accessible(page: Page, name: str) -> None:
    """No serious or critical axe violation; every violation found kept beside the
    page's screenshot (``<name>.axe.json``)."""
    violations = accessibility_violations(page)
    (artefacts_dir() / f"{name}.axe.json").write_text(
        json.dumps(violations, ensure_ascii=False, indent=2), "utf-8"
    )
    failing = blocking(violations)
    assert not failing, f"{name}: accessibility violations\n" + "\n".join(failing)


# -- a person at a browser -------------------------------------------------------------


class Person:
    """One browser context (its own cookies, its own language): a person at a screen."""

    def __init__(self, context: BrowserContext, origin: str) -> None:
        self.context = context
        # Nothing leaves the server: such a request fails (and Visit reports it).
        context.route(lambda url: not url.startswith(origin), lambda route: route.abort())
        self.page = context.new_page()
        self.visit = Visit(self.page, origin)

    def open(self, path: str) -> Page:
        """Go to ``path`` as a person types it, and wait until the page has settled."""
        answer = self.page.goto(path, wait_until="load")
        assert answer is not None and answer.ok, f"{path}: {answer.status if answer else None}"
        return self.page

    def sign_in(self, token: str) -> None:
        """The sign-in form as a person fills it: the token, then Enter."""
        self.open("/login")
        field = self.page.locator("input[name=token]")
        field.fill(token)
        with self.page.expect_navigation(wait_until="load"):
            field.press("Enter")

    def look(self, name: str) -> None:
        """What every page must be: whole (no broken asset, no script error, nothing
        fetched from outside), accessible, and kept as a screenshot."""
        screenshot(self.page, name)
        self.visit.assert_clean()
        assert_accessible(self.page, name)
