"""Real processes, the real broker, real PostgreSQL, really broken: every run ends
with ``reconcile`` accounting for every record and no fact stored twice."""

from __future__ import annotations

import random
import signal
import subprocess
import time

import psycopg

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import TopicReader, dlq_topic, origin_of
from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.bootstrap import open_ledger, reconcile_topic
from ledger.domain.facts import ReportedFact
from ledger.entrypoints.demo import malformed_messages
from simulator import DemoConfig, generate
from tests.faults.conftest import StartIngest
from tests.integration.support import (
    expected_facts,
    offsets_done,
    publish,
    publish_facts,
    stored_facts,
    wait_for,
)

STREAM = DemoConfig(days=28, hospitals=3, donations_per_day=12, seed=11)
#: Long enough that ten kills (each after some progress) land before the end.
LONG = DemoConfig(days=70, hospitals=3, donations_per_day=12, seed=11)


def publish_with_bad(
    bootstrap: str, topic: str, facts: tuple[ReportedFact, ...], rounds: int = 1
) -> int:
    """The stream, with malformed messages spread through it; how many."""
    codec = AvroCodec()
    bad = [m for _ in range(rounds) for m in malformed_messages(codec, facts[0])]
    messages = [(f.din, codec.encode(f)) for f in facts]
    for index, message in enumerate(bad):
        messages.insert((index + 1) * len(messages) // (len(bad) + 1), message)
    publish(bootstrap, topic, messages)
    return len(bad)


def dead_letter_origins(bootstrap: str, topic: str) -> list[tuple[str, int, int]]:
    """Every dead letter's origin, repeats included (kafka-python, from the beginning)."""
    letters = TopicReader(bootstrap).records(dlq_topic(topic))
    return [origin for letter in letters if (origin := origin_of(letter)) is not None]


def assert_reconciled(
    bootstrap: str, topic: str, url: str, facts: tuple[ReportedFact, ...]
) -> None:
    ledger = open_ledger(store_for(url))
    try:
        result = reconcile_topic(ledger, bootstrap, topic)
        assert result.ok, result.text()
        assert result.unaccounted == [] and result.stored_twice == []
        assert stored_facts(ledger) == expected_facts(facts)
    finally:
        ledger.close()


def finish(start: StartIngest, bootstrap: str, topic: str, url: str) -> str:
    final = start(bootstrap, topic, url, "--until-idle", "3")
    output, _ = final.communicate(timeout=300)
    assert final.returncode == 0, output
    return output


def test_ten_sigkills_at_random_moments_then_restart(
    broker: EmbeddedBroker, topic: str, pg_url: str, ingest_process: StartIngest
) -> None:
    facts = generate(LONG).facts
    poison = publish_with_bad(broker.bootstrap, topic, facts, rounds=12)  # 48, all the way
    chance = random.Random(20261123)
    done = 0
    for kill in range(10):
        process = ingest_process(broker.bootstrap, topic, pg_url, "--batch-size", "20")
        wait_for(
            lambda done=done: offsets_done(pg_url, topic) > done, f"progress before kill {kill + 1}"
        )
        time.sleep(chance.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        done = offsets_done(pg_url, topic)
    assert done < len(facts), "the stream finished before the tenth kill: make it longer"
    finish(ingest_process, broker.bootstrap, topic, pg_url)
    assert_reconciled(broker.bootstrap, topic, pg_url, facts)
    origins = dead_letter_origins(broker.bootstrap, topic)
    assert len(origins) == poison, "every poison message once in the DLQ, nothing else"
    assert len(set(origins)) == poison


def test_two_workers_in_one_group_one_killed(
    broker: EmbeddedBroker, topic: str, pg_url: str, ingest_process: StartIngest
) -> None:
    facts = generate(STREAM).facts
    publish_facts(broker.bootstrap, topic, facts)
    first = ingest_process(
        broker.bootstrap, topic, pg_url, "--batch-size", "20", "--until-idle", "20"
    )
    second = ingest_process(
        broker.bootstrap, topic, pg_url, "--batch-size", "20", "--until-idle", "20"
    )
    wait_for(lambda: offsets_done(pg_url, topic) > 200, "both workers to make progress")
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=10)
    assert offsets_done(pg_url, topic) < len(facts), "the stream finished before the kill"
    output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, output
    assert output.count("assigned partitions") >= 2, "the survivor never took over: " + output
    assert_reconciled(broker.bootstrap, topic, pg_url, facts)


def terminate_ingest_connections(url: str) -> int:
    store = PostgresStore(url)
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        ).fetchall()
    return len(rows)


def restart_postgres(down_for: float) -> None:
    """Stop the server, keep it down longer than the library's own retries, start it."""
    cluster = subprocess.run(
        ["ls", "/etc/postgresql"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    control = ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main"]
    subprocess.run([*control, "stop"], check=True, timeout=120)
    try:
        time.sleep(down_for)
    finally:
        subprocess.run([*control, "start"], check=True, timeout=120)
    subprocess.run(["pg_isready", "-h", "127.0.0.1", "-t", "30"], check=True)


def test_database_connections_dropped_and_server_restarted(
    broker: EmbeddedBroker, topic: str, pg_url: str, ingest_process: StartIngest
) -> None:
    facts = generate(STREAM).facts
    publish_facts(broker.bootstrap, topic, facts)
    process = ingest_process(
        broker.bootstrap, topic, pg_url, "--batch-size", "20", "--until-idle", "15"
    )
    wait_for(lambda: offsets_done(pg_url, topic) > 100, "progress")
    terminated = 0
    for _ in range(3):  # drop every connection mid-batch, three times, as ingest reconnects
        terminated += terminate_ingest_connections(pg_url)
        time.sleep(1)
    assert terminated >= 3
    restart_postgres(down_for=6)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert "database unavailable" in output
    assert "Traceback" not in output
    assert_reconciled(broker.bootstrap, topic, pg_url, facts)


Facts = tuple[ReportedFact, ...]


def restart_broker_and_publish(
    broker: EmbeddedBroker, topic: str, pg_url: str, start: StartIngest, first: Facts, then: Facts
) -> str:
    """Ingest ``first``; stop the broker mid-stream; it comes back empty; publish ``then``."""
    ensure_topics(broker.bootstrap, {topic: 3, dlq_topic(topic): 1})
    publish_facts(broker.bootstrap, topic, first)
    process = start(broker.bootstrap, topic, pg_url, "--batch-size", "20", "--until-idle", "20")
    wait_for(lambda: offsets_done(pg_url, topic) > 100, "progress")
    broker.stop()
    time.sleep(2)
    broker.start()  # memory only: it comes back empty
    ensure_topics(broker.bootstrap, {topic: 3, dlq_topic(topic): 1})
    publish_facts(broker.bootstrap, topic, then)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


SHORT = DemoConfig(days=10, hospitals=2, donations_per_day=12, seed=5)


def test_broker_restarted_empty_and_the_outbox_replayed(
    own_broker: EmbeddedBroker, pg_url: str, ingest_process: StartIngest
) -> None:
    facts = generate(SHORT).facts
    topic = "bloodledger.events"
    restart_broker_and_publish(
        own_broker, topic, pg_url, ingest_process, facts[: len(facts) // 2], facts
    )
    assert_reconciled(own_broker.bootstrap, topic, pg_url, facts)


def test_a_partition_whose_history_changed_is_detected_and_read_again(
    own_broker: EmbeddedBroker, pg_url: str, ingest_process: StartIngest
) -> None:
    facts = generate(SHORT).facts
    topic = "bloodledger.events"
    replayed = tuple(reversed(facts))  # other records at the offsets already read
    output = restart_broker_and_publish(own_broker, topic, pg_url, ingest_process, facts, replayed)
    assert "history of it changed" in output
    assert_reconciled(own_broker.bootstrap, topic, pg_url, facts)
