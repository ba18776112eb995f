"""Publish -> ingest -> history through the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.kafka import publish
from ledger.adapters.persistence import store_for
from ledger.bootstrap import KafkaSettings, ingestor, open_ledger
from ledger.entrypoints.demo import malformed_messages
from ledger.services.ingest import IngestCounters, IngestSettings
from simulator import DemoConfig, generate
from tests.builders import RBC, Timeline, din
from tests.integration.support import (
    expected_facts,
    publish_facts,
    read_dead_letters,
    run_cli,
    stored_facts,
)

SMALL = DemoConfig(days=4, hospitals=2, donations_per_day=10)


def ingest(bootstrap: str, topic: str, url: str) -> IngestCounters:
    ledger = open_ledger(store_for(url))
    try:
        kafka = KafkaSettings(bootstrap=bootstrap, topic=topic, group=f"g-{uuid.uuid4().hex[:8]}")
        settings = IngestSettings(topic=topic, until_idle=2.0, max_records=500)
        return ingestor(ledger, kafka, settings).run()
    finally:
        ledger.close()


def test_published_facts_are_stored_once_and_replayable(
    broker: EmbeddedBroker, topic: str, durable_store_url: str
) -> None:
    clean = Timeline(din=din(1)).transfused_cleanly()
    reactive = Timeline(din=din(2))
    reactive.collected()
    reactive.produced()
    reactive.tested(result="REACTIVE")
    facts = clean.facts + reactive.facts
    publish_facts(broker.bootstrap, topic, facts)

    counters = ingest(broker.bootstrap, topic, durable_store_url)

    assert (counters.records, counters.stored, counters.duplicates, counters.dead_lettered) == (
        len(facts),
        len(facts),
        0,
        0,
    )
    ledger = open_ledger(store_for(durable_store_url))
    try:
        assert stored_facts(ledger) == expected_facts(facts)
    finally:
        ledger.close()

    shown = run_cli("history", clean.din, "--json", "--store", durable_store_url)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    [unit] = document["units"]
    assert (unit["din"], unit["product_code"]) == (clean.din, RBC)
    assert unit["state"]["status"] == "TRANSFUSED"
    assert [e["event_id"] for e in unit["events"]] == [
        f.event_id for f in sorted(clean.facts, key=lambda f: f.occurred_at)
    ]

    as_of = run_cli(
        "history",
        reactive.din,
        "--as-of",
        "2026-09-01T11:00:00Z",
        "--json",
        "--store",
        durable_store_url,
    )
    assert json.loads(as_of.stdout)["units"][0]["state"]["flags"] == []
    now = run_cli("history", reactive.din, "--json", "--store", durable_store_url)
    assert json.loads(now.stdout)["units"][0]["state"]["status"] == "QUARANTINED"


def test_a_generated_stream_with_late_and_resent_facts(
    broker: EmbeddedBroker, topic: str, durable_store_url: str
) -> None:
    stream = generate(SMALL)
    publish_facts(broker.bootstrap, topic, stream.facts)
    counters = ingest(broker.bootstrap, topic, durable_store_url)
    assert counters.records == len(stream.facts)
    assert counters.duplicates == stream.resent
    ledger = open_ledger(store_for(durable_store_url))
    try:
        assert stored_facts(ledger) == expected_facts(stream.facts)
        for flag, units in stream.injected.items():
            for unit_din, product_code in units:
                [unit] = ledger.units_of(unit_din, product_code)
                assert flag in unit.state().flags, (flag, unit_din, product_code)
    finally:
        ledger.close()


def test_messages_that_are_not_facts_go_untouched_to_the_dead_letter_topic(
    broker: EmbeddedBroker, topic: str, sqlite_url: str
) -> None:
    stream = generate(SMALL)
    good = stream.facts[:50]
    codec = AvroCodec()
    bad = malformed_messages(codec, stream.facts[0])
    messages = (
        [(f.din, codec.encode(f)) for f in good[:25]]
        + bad
        + [(f.din, codec.encode(f)) for f in good[25:]]
    )
    publish(broker.bootstrap, topic, messages)

    counters = ingest(broker.bootstrap, topic, sqlite_url)

    assert counters.dead_lettered == len(bad)
    assert counters.stored + counters.duplicates == len(good)
    dead = read_dead_letters(broker.bootstrap, topic, len(bad))
    assert sorted(value for value, _ in dead) == sorted(value for _, value in bad)
    for _, headers in dead:
        assert headers["bloodledger.error.class"] in {
            "TRUNCATED",
            "BAD_MAGIC",
            "UNKNOWN_SCHEMA_ID",
            "BAD_DIN",
        }
        assert headers["bloodledger.error.message"]
        assert headers["bloodledger.origin.topic"] == topic
        assert int(headers["bloodledger.origin.offset"]) >= 0
