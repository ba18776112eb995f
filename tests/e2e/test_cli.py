"""The command line as a user meets it: help, encode, publish, bad input, no PII in logs."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.contract_json import fact_to_json
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from tests.builders import Timeline
from tests.integration.support import run_cli, run_ingest


def test_help_lists_every_command() -> None:
    shown = run_cli("--help")
    assert shown.returncode == 0
    for command in ("ingest", "history", "encode", "publish", "demo", "broker", "topics"):
        assert command in shown.stdout


def test_encode_turns_contract_json_into_framed_avro(tmp_path: Path) -> None:
    facts = Timeline().transfused_cleanly().facts
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(json.dumps(fact_to_json(f)) for f in facts) + "\n")
    encoded = run_cli("encode", str(source))
    assert encoded.returncode == 0, encoded.stderr
    lines = encoded.stdout.splitlines()
    codec = AvroCodec()
    decoded = [codec.decode(bytes.fromhex(line.split("\t")[1])) for line in lines]
    assert decoded == facts
    assert {line.split("\t")[0] for line in lines} == {facts[0].din}


def test_encode_names_the_bad_line_and_field_without_its_value(tmp_path: Path) -> None:
    fact = fact_to_json(Timeline().collected())
    fact["din"] = "S31012600000X"
    source = tmp_path / "bad.jsonl"
    source.write_text(
        json.dumps(fact_to_json(Timeline().collected())) + "\n" + json.dumps(fact) + "\n"
    )
    encoded = run_cli("encode", str(source))
    assert encoded.returncode == 2
    assert "line 2" in encoded.stderr
    assert "S31012600000X" not in encoded.stderr


def test_history_rejects_a_malformed_din() -> None:
    shown = run_cli("history", "NOT-A-DIN", "--store", "memory://")
    assert shown.returncode == 2
    assert "DIN" in shown.stderr


def test_publish_then_ingest_logs_no_donor_or_patient_id(
    broker: EmbeddedBroker, topic: str, tmp_path: Path
) -> None:
    timeline = Timeline().transfused_cleanly()
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(json.dumps(fact_to_json(f)) for f in timeline.facts))
    published = run_cli("publish", str(source), "--bootstrap", broker.bootstrap, "--topic", topic)
    assert published.returncode == 0, published.stderr
    store = f"sqlite:///{tmp_path / 'ledger.db'}"
    ingested = run_ingest(broker.bootstrap, topic, store, "-v")
    assert ingested.returncode == 0, ingested.stderr
    assert f"stored {len(timeline.facts)}" in ingested.stderr
    for person in ("D000001", "P000001"):
        assert person not in ingested.stdout + ingested.stderr
    ledger = open_ledger(store_for(store))
    try:
        topics = {n.topic for n in ledger.event_log.page(1, 1000)}
    finally:
        ledger.close()
    assert topics and all(t.startswith("bloodledger:") for t in topics), topics
