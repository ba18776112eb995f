"""A clean stop: SIGTERM ends ingest after the current batch (kills are in tests/faults)."""

from __future__ import annotations

import signal

from ledger.adapters.broker import EmbeddedBroker
from simulator import DemoConfig, generate
from tests.integration.support import (
    offsets_done,
    publish_facts,
    start_ingest,
    stored_facts_at,
    wait_for,
)

STREAM = DemoConfig(days=10, hospitals=2, donations_per_day=12, seed=7)


def test_sigterm_stops_cleanly_after_the_current_batch(
    broker: EmbeddedBroker, topic: str, sqlite_url: str
) -> None:
    stream = generate(STREAM)
    publish_facts(broker.bootstrap, topic, stream.facts)
    process = start_ingest(broker.bootstrap, topic, sqlite_url, "--batch-size", "50")
    wait_for(lambda: offsets_done(sqlite_url, topic) > 0, "progress")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "stopping after the current batch" in output
    stored = stored_facts_at(sqlite_url)
    assert all(count == 1 for count in stored.values())
