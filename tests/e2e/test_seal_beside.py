"""``ingest --seal`` and ``project --seal``: the audit log sealed beside the work.

An operator who runs one process per host seals inside it: each batch stored
(or projected) is followed by the sealer's tick, and a clean stop seals the rest,
so the published checkpoint covers every fact the command stored — and
``audit verify`` agrees with the store.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.contract_json import fact_to_json
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.note import Checkpoint, Note
from tests.builders import Timeline, din
from tests.integration.support import cli, ingest_args

pytestmark = pytest.mark.e2e


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=180, env=env)


def _published_size(checkpoints: Path) -> int:
    note = Note.parse((checkpoints / "checkpoint").read_bytes())
    return Checkpoint.parse(note.text).size


def _operator(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "BLOODLEDGER_CHECKPOINTS": str(tmp_path / "published")}
    made = _run(
        "audit", "keygen", "--name", "bloodledger/beside", "--out", str(tmp_path / "k"), env=env
    )
    assert made.returncode == 0, made.stderr
    env["BLOODLEDGER_AUDIT_KEY"] = str(tmp_path / "k")
    return env


def test_ingest_seal_publishes_a_checkpoint_over_every_stored_fact(
    broker: EmbeddedBroker, topic: str, tmp_path: Path
) -> None:
    facts = Timeline().transfused_cleanly().facts + Timeline(din=din(2)).transfused_cleanly().facts
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(json.dumps(fact_to_json(f)) for f in facts))
    env = _operator(tmp_path)
    published = _run(
        "publish", str(source), "--bootstrap", broker.bootstrap, "--topic", topic, env=env
    )
    assert published.returncode == 0, published.stderr
    store = f"sqlite:///{tmp_path / 'ledger.db'}"
    args = ingest_args(
        broker.bootstrap, topic, store, "--until-idle", "2", "--seal", "--every", "3"
    )
    ingested = _run(*args, env=env)
    assert ingested.returncode == 0, ingested.stderr
    ledger = open_ledger(store_for(store), create=False)
    try:
        head = ledger.event_log.head()
    finally:
        ledger.close()
    assert head >= len(facts)
    assert _published_size(tmp_path / "published") == head
    # A checkpoint every three facts, and the last one for the rest.
    sizes = sorted(int(p.name) for p in (tmp_path / "published" / "checkpoints").iterdir())
    assert sizes[-1] == head and len(sizes) == -(-head // 3)
    verified = _run("audit", "verify", "--store", store, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_project_seal_seals_while_projecting_and_refuses_without_a_key(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = open_ledger(store_for(store))
    try:
        ledger.record(Timeline().transfused_cleanly().facts)
        head = ledger.event_log.head()
    finally:
        ledger.close()
    env = {**os.environ, "BLOODLEDGER_CHECKPOINTS": str(tmp_path / "published")}
    refused = _run("project", "--store", store, "--until-idle", "0", "--seal", env=env)
    assert refused.returncode != 0 and "key" in refused.stderr.lower()
    assert not (tmp_path / "published" / "checkpoint").exists()
    env = _operator(tmp_path)
    projected = _run("project", "--store", store, "--until-idle", "0", "--seal", env=env)
    assert projected.returncode == 0, projected.stderr
    assert _published_size(tmp_path / "published") == head
