"""Reconcile names what is not accounted for, and fails."""

from __future__ import annotations

import json

from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.kafka import publish
from tests.builders import Timeline, din
from tests.integration.support import publish_facts, run_cli, run_ingest


def test_records_not_ingested_are_listed_and_the_exit_status_says_so(
    broker: EmbeddedBroker, topic: str, sqlite_url: str
) -> None:
    ingested_facts = Timeline(din=din(1)).transfused_cleanly().facts
    publish_facts(broker.bootstrap, topic, ingested_facts)
    assert run_ingest(broker.bootstrap, topic, sqlite_url).returncode == 0

    clean = run_cli(
        "reconcile", "--bootstrap", broker.bootstrap, "--topic", topic, "--store", sqlite_url
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"stored {len(ingested_facts)}" in clean.stdout

    late = Timeline(din=din(2)).transfused_cleanly().facts[:3]
    publish_facts(broker.bootstrap, topic, late)  # arrives after ingest stopped
    publish(broker.bootstrap, topic, [(late[0].din, b"\x00\x00\x00\x00\x01garbage")])
    report = run_cli(
        "reconcile",
        "--bootstrap",
        broker.bootstrap,
        "--topic",
        topic,
        "--store",
        sqlite_url,
        "--json",
    )
    assert report.returncode == 1
    document = json.loads(report.stdout)
    assert document["ok"] is False
    assert document["stored"] == len(ingested_facts)
    assert len(document["unaccounted"]) == len(late) + 1
    whys = sorted(u["why"] for u in document["unaccounted"])
    assert whys[0] == "a fact whose event id is not in the store"
    assert whys[-1].startswith("not a fact (")
