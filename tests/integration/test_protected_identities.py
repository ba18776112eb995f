"""Protected identities: no donor or patient id in the clear in the store, the logs or errors.

One demo stream is published once and ingested, with ``BLOODLEDGER_CIPHER_KEY`` set
and the projector running, into SQLite and into PostgreSQL by the real ``ingest``
command (debug logging). Then every byte of the SQLite files, every row of every
table of the PostgreSQL schema and every log line is searched for every donor and
patient id the stream holds: none may be there — while the commands, given the
key, still show them. A protected store refuses every command without its key or
with another; an unprotected store that holds facts refuses a key. And the ledger
derives the same things (flags that compare patients, lookback cases) whether its
identifiers are sealed or not.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import dlq_topic
from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.bootstrap import IdentityProtectionError, open_ledger, open_read_models_of
from ledger.domain.identity import IDENTITY_FIELDS, Identities, IdentityKey, generate_master_key
from ledger.domain.inventory import AlertPolicy
from ledger.domain.lookback import manual_case_id
from ledger.domain.protection import PROTECTION_ID, IdentitiesProtected
from ledger.entrypoints.cli import main
from ledger.entrypoints.runtime import CIPHER_KEY_ENV
from ledger.services.application import IdentitiesWithheld
from ledger.services.history import history_json
from projections import queries
from simulator import DemoConfig, DemoStream, generate
from tests.conftest import drop_schema, pg_store_url
from tests.integration.support import cli, ingest_args, publish_facts
from tests.integration.test_same_facts_same_ledger import _without_recording_times

STREAM = DemoConfig(seed=12, days=21, hospitals=2, donations_per_day=10, repeat_donor_share=0.7)
KEY = generate_master_key()
END = datetime.fromisoformat("2027-01-01T00:00:00+00:00")


def _people(stream: DemoStream) -> dict[str, str]:
    """Every identifier in the stream -> its kind."""
    return {
        fact.payload[name]: kind
        for fact in stream.facts
        for name, kind in IDENTITY_FIELDS.items()
        if fact.payload.get(name)
    }


def _pattern(ids: list[str]) -> re.Pattern[bytes]:
    """Any of these ids as a whole token (not inside a longer id such as a shipment's)."""
    alternatives = b"|".join(re.escape(i.encode()) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rb"(?<![A-Za-z0-9_-])(?:" + alternatives + rb")(?![A-Za-z0-9_-])")


def _found(pattern: re.Pattern[bytes], data: bytes | str) -> set[str]:
    raw = data.encode() if isinstance(data, str) else data
    return {m.group(0).decode() for m in pattern.finditer(raw)}


def _env(key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != CIPHER_KEY_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    if key is not None:
        env[CIPHER_KEY_ENV] = key
    return env


def _start(*args: str, key: str | None = KEY) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(key),
    )


def _finish(process: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@dataclass
class Ingested:
    stream: DemoStream
    people: dict[str, str]
    sqlite: str
    postgres: str
    #: Every line the ingests (and the commands run on the stores since) logged.
    logs: list[str]


@pytest.fixture(scope="module")
def ingested(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ingested]:
    stream = generate(STREAM)
    topic = f"events-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker.bootstrap, {topic: 3, dlq_topic(topic): 1})
    publish_facts(broker.bootstrap, topic, stream.facts)
    sqlite = f"sqlite:///{tmp_path_factory.mktemp('protected') / 'ledger.db'}"
    postgres = pg_store_url()
    try:
        runs = [
            _start(*ingest_args(broker.bootstrap, topic, url, "--until-idle", "2", "--project",
                                "--group", f"g-{topic}-{n}"), "-v")  # a group each: all of it
            for n, url in enumerate((sqlite, postgres))
        ]  # fmt: skip
        logs: list[str] = []
        for run in runs:
            status, out, err = _finish(run)
            assert status == 0, out + err
            assert "stored" in err  # the progress lines are there to be searched
            logs += (out + err).splitlines()
        reconciled = _finish(
            _start("reconcile", "--bootstrap", broker.bootstrap, "--topic", topic, "--json",
                   "--store", sqlite, "-v")
        )  # fmt: skip
        assert reconciled[0] == 0, reconciled
        assert json.loads(reconciled[1])["unaccounted"] == []
        logs += reconciled[2].splitlines()
        yield Ingested(stream, _people(stream), sqlite, postgres, logs)
    finally:
        drop_schema(postgres)


def _sqlite_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def _postgres_rows(url: str) -> str:
    """Every row of every table of the store's schema, as text (bytes decoded)."""
    store = PostgresStore(url)
    lines: list[str] = []
    with psycopg.connect(store.conninfo()) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (store.schema,),
            )
        ]
        assert len(tables) >= 8, tables
        for table in tables:
            query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(store.schema, table))
            for row in conn.execute(query):
                lines.append(
                    " ".join(
                        bytes(v).decode("utf-8", "replace")
                        if isinstance(v, bytes | memoryview)
                        else str(v)
                        for v in row
                    )
                )
    return "\n".join(lines)


def test_no_identifier_in_the_clear_in_either_store_or_any_log_line(
    ingested: Ingested, tmp_path: Path
) -> None:
    ids = list(ingested.people)
    pattern = _pattern(ids)
    assert len(ids) > 100

    stored = _sqlite_bytes(ingested.sqlite)
    rows = _postgres_rows(ingested.postgres)
    assert _found(pattern, stored) == set()
    assert _found(pattern, rows) == set()
    assert _found(pattern, "\n".join(ingested.logs)) == set()
    # The search can find what it looks for: the DINs are there in the clear, the ids
    # sealed — and the same stream recorded without a key shows the ids themselves.
    some_din = ingested.stream.facts[0].din.encode()
    assert some_din in stored and some_din.decode() in rows
    assert stored.count(b"bl1:") > len(ids) and rows.count("bl1:") > len(ids)
    clear = f"sqlite:///{tmp_path / 'clear.db'}"
    ledger = open_ledger(store_for(clear))
    try:
        ledger.record(ingested.stream.facts[:400])
    finally:
        ledger.close()
    assert _found(pattern, _sqlite_bytes(clear))


def _patient_transfused(stream: DemoStream) -> str:
    started = (f for f in stream.facts if f.event_type == "TransfusionStarted")
    return str(next(started).payload["patient_id"])


def test_the_commands_show_the_plain_ids_given_the_key(ingested: Ingested) -> None:
    stream, url = ingested.stream, ingested.sqlite
    patient = _patient_transfused(stream)
    collected = next(f for f in stream.facts if f.event_type == "DonationCollected")
    donor = collected.payload["donor_id"]
    runs = {
        "patient": _start("trace", "--patient", patient, "--json", "--store", url, "-v"),
        "donor": _start("trace", "--donor", donor, "--store", url, "-v"),
        "history": _start("history", collected.din, "--json", "--store", url, "-v"),
        "pg": _start("trace", "--patient", patient, "--json", "--store", ingested.postgres, "-v"),
        "alerts": _start("alerts", "--as-of", "2027-01-01", "--json", "--store", url, "-v"),
    }
    results = {name: _finish(run, timeout=60) for name, run in runs.items()}
    for name, (status, out, err) in results.items():
        assert status == 0, (name, err)
        assert "Traceback" not in err
        assert _found(_pattern(list(ingested.people)), err) == set(), name
        assert "bl1:" not in out, name  # everything shown is revealed
    traced = json.loads(results["patient"][1])
    assert {r["patient_id"] for r in traced["recipients"]} == {patient}
    assert traced["donors"] == sorted(traced["donors"]) and traced["donors"]
    assert set(traced["donors"]) <= set(ingested.people)
    assert json.loads(results["pg"][1]) == traced
    assert f"Donors: {donor}" in results["donor"][1]
    [unit, *_] = json.loads(results["history"][1])["units"]
    assert unit["events"][0]["donor_id"] == donor
    alerts = json.loads(results["alerts"][1])
    assert any(e.get("flag") == "AUTOLOGOUS_MISMATCH" for e in alerts)


# -- refusals -----------------------------------------------------------------------

COMMANDS: list[list[str]] = [
    ["history", "S310126000101"],
    ["trace", "--donor", "D000001"],
    ["trace", "--patient", "P000001"],
    ["inventory"],
    ["alerts"],
    ["lookback", "show", "LB-AUTO-S310126000101"],
    ["lookback", "open", "--donor", "D000001", "--reason", "test"],
    ["reconcile", "--bootstrap", "127.0.0.1:1"],
    ["projections", "status"],
    ["projections", "rebuild"],
    ["project", "--until-idle", "1"],
    ["ingest", "--bootstrap", "127.0.0.1:1", "--until-idle", "1"],
    ["history", "S310126000101", "--known-at", "2027-01-01"],
]


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """``main`` points the root logger at the stderr of its moment (pytest's capture)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def _refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    key: str | None,
    command: list[str],
    *,
    names_store: bool = True,
) -> str:
    if key is None:
        monkeypatch.delenv(CIPHER_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(CIPHER_KEY_ENV, key)
    capsys.readouterr()
    status = main([*command, "--store", url])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert status == 2, (command, out, err)
    assert len(lines) == 1 and "Traceback" not in err, (command, err)
    assert (store_for(url).redacted() in lines[0]) == names_store, (command, err)
    assert CIPHER_KEY_ENV in lines[0], (command, err)
    return lines[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def protected_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store created protected, with a few facts (and their read models)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite" else pg_store_url()
    try:
        with open_read_models_of(store_for(url), identity_key=IdentityKey(KEY)) as models:
            models.ledger.record(generate(DemoConfig(days=2, hospitals=1)).facts)
            models.projector.catch_up()
        yield url
    finally:
        if request.param == "postgresql":
            drop_schema(url)


def test_a_protected_store_refuses_every_command_without_its_key_or_with_another(
    protected_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for command in COMMANDS:
        without = _refused(capsys, monkeypatch, protected_url, None, command)
        assert "encrypted" in without and "set" in without
        wrong = _refused(capsys, monkeypatch, protected_url, generate_master_key(), command)
        assert "not the key" in wrong
        bad = _refused(capsys, monkeypatch, protected_url, "not-a-key", command, names_store=False)
        assert "not a usable key" in bad and "not-a-key" not in bad
    monkeypatch.setenv(CIPHER_KEY_ENV, KEY)
    assert main(["inventory", "--store", protected_url]) == 0  # and the right key opens it


def test_an_unprotected_store_with_facts_refuses_a_key(
    durable_store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_read_models_of(store_for(durable_store_url)) as models:
        models.ledger.record(generate(DemoConfig(days=2, hospitals=1)).facts)
    for command in COMMANDS:
        refused = _refused(capsys, monkeypatch, durable_store_url, KEY, command)
        assert "without identity protection" in refused and "unset" in refused
    monkeypatch.delenv(CIPHER_KEY_ENV)
    assert main(["inventory", "--store", durable_store_url]) == 0


def test_without_the_key_an_audit_may_read_the_sealed_bytes_but_records_nothing(
    protected_url: str,
) -> None:
    store = store_for(protected_url)
    with pytest.raises(IdentityProtectionError):
        open_ledger(store, create=False)
    ledger = open_ledger(store, create=False, identities_required=False)
    try:
        assert ledger.identities.protected
        head = ledger.event_log.head()
        assert head > 0
        first = ledger.event_log.decode(ledger.event_log.page(1, 1)[0])
        assert isinstance(first, IdentitiesProtected)  # the store's first event
        assert first.key_check == IdentityKey(KEY).check
        donations = [
            f for n in ledger.event_log.page(1, 1000) if (f := ledger.event_log.decode(n))
            and type(f).__name__ == "DonationCollected"
        ]  # fmt: skip
        assert donations and all(d.donor_id.startswith("bl1:") for d in donations)  # type: ignore[attr-defined]
        facts = generate(DemoConfig(days=1, hospitals=1, seed=99)).facts
        with pytest.raises(IdentitiesWithheld):
            ledger.record(facts)
        assert ledger.event_log.head() == head
    finally:
        ledger.close()


def test_writers_creating_a_store_at_once_record_one_protection(pg_url: str) -> None:
    key = IdentityKey(KEY)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def create() -> None:
        try:
            barrier.wait()
            open_ledger(store_for(pg_url), identity_key=key).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ledger = open_ledger(store_for(pg_url), identity_key=key)
    try:
        events = [n for n in ledger.event_log.page(1, 100)]
        assert [str(n.originator_id) for n in events] == [str(PROTECTION_ID)]
        # Two ledgers that both saw the store empty: the second learns the first's key.
        other = IdentityKey(generate_master_key())
        assert ledger.protect(other).key_check == key.check
    finally:
        ledger.close()
    with pytest.raises(IdentityProtectionError, match="not the key"):
        open_ledger(store_for(pg_url), identity_key=other)


# -- the same ledger, sealed or not ---------------------------------------------------


def _derived(url: str, key: IdentityKey | None, stream: DemoStream) -> dict[str, Any]:
    """Everything the ledger derives, revealed: histories, lookback cases, traces."""
    dins = sorted({f.din for f in stream.facts})
    patients = sorted({p for p, kind in _people(stream).items() if kind == "patient"})
    with open_read_models_of(store_for(url), identity_key=key) as models:
        models.projector.catch_up()
        seal, reveal = models.identities.seal, models.identities.revealed
        document = {
            "histories": {din: history_json(models.ledger.units_of(din)) for din in dins},
            "cases": {c: models.lookbacks.report(c, END) for c in models.view.case_ids()},
            "patients": {
                p: queries.trace_patient(models.view, seal("patient", p)) for p in patients[:40]
            },
            "alerts": queries.alerts(models.view, END, AlertPolicy()),
        }
        revealed: dict[str, Any] = _without_recording_times(reveal(document))
    for trace in revealed["patients"].values():
        trace["donors"].sort()
    return revealed


def test_flags_and_lookbacks_are_the_same_sealed_or_in_the_clear(
    ingested: Ingested, tmp_path: Path
) -> None:
    clear = f"sqlite:///{tmp_path / 'clear.db'}"
    with open_read_models_of(store_for(clear)) as models:
        for start in range(0, len(ingested.stream.facts), 1000):
            models.ledger.record(ingested.stream.facts[start : start + 1000])
    expected = _derived(clear, None, ingested.stream)
    assert len(expected["cases"]) >= 2
    flags = {
        flag
        for document in expected["histories"].values()
        for unit in document["units"]
        for flag in unit["state"]["flags"]
    }
    assert {"DOUBLE_USE", "AUTOLOGOUS_MISMATCH", "REACTIVE_DONATION"} <= flags
    assert _derived(ingested.sqlite, IdentityKey(KEY), ingested.stream) == expected
    assert _derived(ingested.postgres, IdentityKey(KEY), ingested.stream) == expected


def test_a_manual_case_is_named_from_the_sealed_donor(
    protected_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CIPHER_KEY_ENV, KEY)
    donor = next(
        f.payload["donor_id"]
        for f in generate(DemoConfig(days=2, hospitals=1)).facts
        if f.event_type == "DonationCollected"
    )
    since = "2026-01-01T00:00:00+00:00"
    command = ["lookback", "open", "--donor", donor, "--reason", "check", "--since", since]
    assert main([*command, "--at", "2026-12-01", "--json", "--store", protected_url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["donor_id"] == donor and report["donations"]
    sealed = Identities(IdentityKey(KEY)).seal("donor", donor)
    assert report["case_id"] == manual_case_id(sealed, datetime.fromisoformat(since), "check")
    assert report["case_id"] != manual_case_id(donor, datetime.fromisoformat(since), "check")
    with open_read_models_of(store_for(protected_url), identity_key=IdentityKey(KEY)) as models:
        [case] = [c for c in models.view.cases() if c["case_id"] == report["case_id"]]
        assert case["donor_id"] == sealed
