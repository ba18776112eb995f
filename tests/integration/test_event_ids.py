"""``event_id`` through the real broker: one identity for the ingest and for reconcile.

A repeat (same id, same content) is a silent no-op; the same id with other
content — the same unit, or another DIN altogether — is dead-lettered as an
``EVENT_ID_CONFLICT`` naming where the first fact is, never dropped; and
``reconcile`` counts exactly what the ingest decided.
"""

from __future__ import annotations

import json
from dataclasses import replace

import psycopg

from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.kafka import ERROR_CLASS
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.bootstrap import open_ledger, reconcile_topic
from ledger.services.application import stream_of
from tests.builders import Timeline, din
from tests.integration.support import publish_facts, read_dead_letters, run_cli, run_ingest


def _stream() -> tuple[list, object, object]:
    first, second = Timeline(din=din(31)).transfused_cleanly(), Timeline(din=din(32))
    second.collected()
    second.produced()
    receipt = next(f for f in first.facts if f.event_type == "UnitReceived")
    warm = replace(receipt, payload={**receipt.payload, "temperature_ok": False})
    reused = replace(second.facts[1], event_id=first.facts[-1].event_id)  # another DIN
    return [*first.facts, *second.facts, receipt, warm, reused], receipt, reused


def test_conflicts_are_dead_lettered_and_reconcile_counts_what_ingest_did(
    broker: EmbeddedBroker, topic: str, durable_store_url: str
) -> None:
    facts, receipt, _ = _stream()
    publish_facts(broker.bootstrap, topic, facts[:-3])
    assert run_ingest(broker.bootstrap, topic, durable_store_url).returncode == 0
    publish_facts(broker.bootstrap, topic, facts[-3:])  # later: a repeat and two reuses
    ingested = run_ingest(broker.bootstrap, topic, durable_store_url)
    assert ingested.returncode == 0, ingested.stderr
    last = [line for line in ingested.stderr.splitlines() if "ingest:" in line][-1]
    assert "stored 0, duplicates 1, dead-lettered 0, event-id conflicts 2" in last

    letters = read_dead_letters(broker.bootstrap, topic, expected=2)
    assert [headers[ERROR_CLASS] for _, headers in letters] == ["EVENT_ID_CONFLICT"] * 2
    streams = {headers["bloodledger.conflict.stream"] for _, headers in letters}
    assert str(stream_of(receipt)) in streams  # where the first fact under the id is
    assert {headers["bloodledger.conflict.din"] for _, headers in letters} == {din(31)}

    shown = run_cli("reconcile", "--bootstrap", broker.bootstrap, "--topic", topic,
                    "--store", durable_store_url, "--json")  # fmt: skip
    assert shown.returncode == 0, shown.stdout
    result = json.loads(shown.stdout)
    assert (result["stored"], result["duplicates"], result["conflicts"]) == (14, 1, 2)
    assert result["dead_lettered"] == 0 and result["unaccounted"] == []


def test_a_fact_missing_from_its_stream_is_unaccounted_though_its_id_is_elsewhere(
    broker: EmbeddedBroker, topic: str, pg_url: str
) -> None:
    """A store written before event ids were unique: the same id in two streams. The
    record whose fact was deleted is not "a duplicate" because the id exists elsewhere."""
    facts, _, reused = _stream()
    publish_facts(broker.bootstrap, topic, facts[:-3])  # the clean stories only
    assert run_ingest(broker.bootstrap, topic, pg_url).returncode == 0
    original = next(f for f in facts if f.event_id == reused.event_id)
    store = PostgresStore(pg_url)
    ledger = open_ledger(store)
    try:  # write the reuse as old code did: straight into the other stream
        batch = ledger.prepare([reused])
        ledger.events.put(batch.events)
    finally:
        ledger.close()
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        conn.execute(
            f'DELETE FROM "{store.schema}".bloodledger_events WHERE originator_id = %s '
            "AND convert_from(state, 'UTF8')::jsonb->>'event_id' = %s",
            (stream_of(original), original.event_id),
        )
    ledger = open_ledger(store)
    try:
        result = reconcile_topic(ledger, broker.bootstrap, topic)
    finally:
        ledger.close()
    assert not result.ok
    assert result.in_several_streams == []  # the copy in its own stream is gone
    [missing] = result.unaccounted
    assert "stored for a different fact" in missing.why
    shown = run_cli("reconcile", "--bootstrap", broker.bootstrap, "--topic", topic,
                    "--store", pg_url)  # fmt: skip
    assert shown.returncode == 1
    assert "UNACCOUNTED" in shown.stdout
