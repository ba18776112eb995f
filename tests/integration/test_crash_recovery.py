"""A clean stop: SIGTERM ends ingest after the current batch (kills are in tests/faults)."""

from __future__ import annotations

import signal
import time

import pytest

from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.kafka import upstream_name
from ledger.application import BloodLedger
from ledger.demo.generator import DemoConfig, generate
from ledger.store import StoreURL
from tests.integration.support import publish_facts, start_ingest, stored_facts_at

STREAM = DemoConfig(days=10, hospitals=2, donations_per_day=12, seed=7)


def recorded_offsets(url: str, topic: str) -> int:
    ledger = BloodLedger.open(StoreURL.parse(url))
    try:
        return sum((ledger.position(upstream_name(topic, p)) or -1) + 1 for p in range(3))
    finally:
        ledger.close()


def wait_for_progress(url: str, topic: str, beyond: int, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = recorded_offsets(url, topic)
        if done > beyond:
            return done
        time.sleep(0.05)
    pytest.fail(f"ingest made no progress beyond {beyond} offsets in {timeout:.0f} s")


def test_sigterm_stops_cleanly_after_the_current_batch(
    broker: EmbeddedBroker, topic: str, sqlite_url: str
) -> None:
    stream = generate(STREAM)
    publish_facts(broker.bootstrap, topic, stream.facts)
    process = start_ingest(broker.bootstrap, topic, sqlite_url, "--batch-size", "50")
    wait_for_progress(sqlite_url, topic, 0)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "stopping after the current batch" in output
    stored = stored_facts_at(sqlite_url)
    assert all(count == 1 for count in stored.values())
