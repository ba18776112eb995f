"""The schema registry as an operator meets it: ``bloodledger serve --schemas`` answering
at ``/registry``, ``ingest --schema-registry`` waiting out a registry that is down, and
``schemas check`` as CI runs it — every command a separate process."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.kafka import publish
from ledger.entrypoints.registry import contract_registry
from tests.builders import Timeline, din
from tests.integration.support import (
    cli,
    expected_facts,
    run_cli,
    start_ingest,
    stored_facts_at,
    wait_for,
)
from tests.support.producers import contract_record, framed_with
from tests.support.proposals import (
    NEW_ID,
    SCHEMAS,
    add_optional_site,
    drop_to_facility,
    proposal,
    register,
)
from tests.support.servers import free_port, serving


@contextmanager
def served_registry(schemas: Path, port: int, store: str) -> Iterator[str]:
    """``bloodledger serve --schemas DIR`` on ``port``: its registry's URL, once it answers."""
    process = subprocess.Popen(
        cli("serve", "--store", store, "--port", str(port), "--schemas", str(schemas)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/registry"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/subjects", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


class Output:
    """A process's output, read as it comes (so a test can wait for a line)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def text(self) -> str:
        self._thread.join(timeout=5)
        return "".join(self.lines)

    def has(self, words: str) -> bool:
        return any(words in line for line in self.lines)


def test_ingest_waits_for_a_registry_that_is_down_then_stores_everything_once(
    broker: EmbeddedBroker, topic: str, tmp_path: Path
) -> None:
    """Records written with schema id 5 (a newer schema only the registry has) while the
    registry is down: the ingest says so and waits; once ``bloodledger serve --schemas``
    answers, every record is stored once and the topic reconciles (asking the registry)."""
    newer = proposal(tmp_path, {"bloodledger.Source.avsc": add_optional_site})
    plain = Timeline(din=din(1)).transfused_cleanly().facts
    later = Timeline(din=din(2)).transfused_cleanly().facts
    publish(broker.bootstrap, topic, [(f.din, AvroCodec().encode(f)) for f in plain])
    records = [contract_record(f, site="ward 5") for f in later]
    publish(broker.bootstrap, topic, [(r["din"], framed_with(newer, NEW_ID, r)) for r in records])

    port = free_port()
    registry = f"http://127.0.0.1:{port}/registry"
    store = f"sqlite:///{tmp_path / 'ledger.db'}"
    ingest = start_ingest(broker.bootstrap, topic, store, "--schema-registry", registry)
    output = Output(ingest)
    expected = expected_facts(plain + later)
    try:
        wait_for(lambda: output.has("retrying in"), "the ingest to wait for the registry")
        time.sleep(2)  # it keeps waiting: nothing of the batch is decided meanwhile
        assert not output.has("dead-lettered 1")
        with served_registry(newer, port, f"sqlite:///{tmp_path / 'served.db'}"):
            wait_for(lambda: stored_facts_at(store) == expected, "every fact stored", 120)
            ingest.terminate()
            assert ingest.wait(timeout=60) == 0
            reconciled = run_cli("reconcile", "--bootstrap", broker.bootstrap, "--topic", topic,
                                 "--store", store, "--schema-registry", registry)  # fmt: skip
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
        assert "unaccounted 0" in reconciled.stdout
    finally:
        if ingest.poll() is None:
            ingest.kill()
    text = output.text()
    lines = text.splitlines()
    assert "schema registry unavailable" in lines[0]  # at start: its ids checked later
    retried = [line for line in lines if "decoding" in line and "retrying in" in line]
    assert retried and all("schema registry unavailable (" in line for line in retried)
    assert f"SchemaRegistryUnavailable: schema id {NEW_ID}: {registry}/schemas/ids/" in retried[-1]
    assert "Connection refused" in retried[-1]
    assert [line for line in lines if "ingest:" in line][-1].count("dead-lettered 0") == 1
    for person in ("D000001", "D000002", "P000001", "P000002"):
        assert person not in text


def test_schemas_check_as_ci_runs_it_and_on_a_breaking_proposal(tmp_path: Path) -> None:
    ours = run_cli("schemas", "check", str(SCHEMAS))
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert ours.stdout.splitlines()[-1].startswith("compatible")
    breaking = proposal(tmp_path, {"bloodledger.UnitIssued.avsc": drop_to_facility})
    refused = run_cli("schemas", "check", str(breaking))
    assert refused.returncode == 1
    assert "PROBLEM" in refused.stdout and "UnitIssued.to_facility" in refused.stdout
    missing = run_cli("schemas", "check", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_ingest_refuses_a_registry_with_another_schema_under_a_manifest_id(
    tmp_path: Path,
) -> None:
    """Its producers would frame messages with id 2 that the ledger reads as its own id 2:
    refused before anything is opened (no broker or store needed to say so)."""
    reassigned = proposal(tmp_path, {"bloodledger.Source.avsc": add_optional_site})
    register(reassigned, 2, "v4/bloodledger.Event.avsc")
    with serving(contract_registry(reassigned)) as base:
        refused = run_cli("ingest", "--bootstrap", "127.0.0.1:9", "--topic", "t",
                          "--store", f"sqlite:///{tmp_path / 'never.db'}",
                          "--schema-registry", base)  # fmt: skip
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("bloodledger ingest: the schema registry's schema id 2 is not")
    assert not (tmp_path / "never.db").exists()
