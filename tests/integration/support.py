"""Helpers for tests that run the real pipeline: stores compared fact by fact."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from ledger.adapters.avro import AvroCodec
from ledger.adapters.kafka import dlq_topic, publish
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.facts import ReportedFact
from ledger.services.partitions import upstream_name
from ledger.services.reconcile import stored_fact_counts

#: (stream id, event_id) of every stored fact, with how often it is stored.
FactCounts = collections.Counter[tuple[str, str]]


#: Every fact in a ledger's notification log, counted (the reconciler's own count).
stored_facts = stored_fact_counts


def stored_facts_at(url: str) -> FactCounts:
    ledger = open_ledger(store_for(url))
    try:
        return stored_facts(ledger)
    finally:
        ledger.close()


def expected_facts(facts: Sequence[ReportedFact]) -> FactCounts:
    """What the store must hold: the same facts recorded directly in memory."""
    ledger = open_ledger(store_for("memory://"))
    ledger.record(list(facts))
    return stored_facts(ledger)


def offsets_done(url: str, topic: str, partitions: int = 3) -> int:
    """How many of the topic's offsets the ledger has recorded as processed."""
    ledger = open_ledger(store_for(url))
    try:
        return sum((ledger.position(upstream_name(topic, p)) or -1) + 1 for p in range(partitions))
    finally:
        ledger.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def publish_facts(bootstrap: str, topic: str, facts: Sequence[ReportedFact]) -> int:
    codec = AvroCodec()
    return publish(bootstrap, topic, [(fact.din, codec.encode(fact)) for fact in facts])


def read_dead_letters(
    bootstrap: str, topic: str, expected: int
) -> list[tuple[bytes, dict[str, str]]]:
    """The dead-letter topic's (value, headers), read by an independent client (librdkafka).

    Assigned, not subscribed: a consumer-group join against the embedded broker
    takes librdkafka many seconds.
    """
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "dlq-reader", "enable.auto.commit": False,
        "fetch.message.max.bytes": 32 * 1024 * 1024,
    })  # fmt: skip
    consumer.assign([TopicPartition(dlq_topic(topic), 0, OFFSET_BEGINNING)])
    found: list[tuple[bytes, dict[str, str]]] = []
    try:
        deadline = time.monotonic() + 30
        while len(found) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                headers = {k: v.decode() for k, v in message.headers() or []}
                found.append((message.value(), headers))
    finally:
        consumer.close()
    return found


def cli(*args: str) -> list[str]:
    """The command line that runs ``bloodledger`` with this interpreter."""
    return [sys.executable, "-m", "ledger.entrypoints.cli", *args]


def ingest_args(bootstrap: str, topic: str, store: str, *extra: str) -> list[str]:
    """``bloodledger ingest`` arguments for a test topic, in a group of its own."""
    return [
        "ingest", "--bootstrap", bootstrap, "--topic", topic, "--store", store,
        "--group", f"g-{topic}", "--progress-every", "1", *extra,
    ]  # fmt: skip


def start_ingest(bootstrap: str, topic: str, store: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli(*ingest_args(bootstrap, topic, store, *extra)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def run_ingest(
    bootstrap: str, topic: str, store: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """Ingest until idle for 2 s, as a separate process."""
    return run_cli(*ingest_args(bootstrap, topic, store, "--until-idle", "2", *extra), timeout=180)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout, check=False)
