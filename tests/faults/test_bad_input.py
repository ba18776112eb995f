"""Bad input through the real broker: each message dead-lettered with a precise
reason while the stream keeps flowing, and reconcile accounts for all of it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.kafka import ERROR_CLASS, ERROR_MESSAGE, publish
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger, reconcile_topic
from tests.builders import Timeline, din
from tests.integration.support import expected_facts, read_dead_letters, run_ingest, stored_facts
from tests.unit.test_avro_codec import PII_PATIENT, crossmatch, raw, record_of, schema_where

FAR_FUTURE = datetime.now(UTC) + timedelta(days=400)


def bad_messages() -> list[tuple[str, bytes, str]]:
    """(key, value, the error class it must be dead-lettered with)."""
    fact = crossmatch()
    good = AvroCodec().encode(fact)
    key = fact.din
    return [
        (key, good[: len(good) - 7], "TRUNCATED"),
        (key, b"\x07" + good[1:], "BAD_MAGIC"),
        (key, b"\x00\x00\x00\x7f\xff" + good[5:], "UNKNOWN_SCHEMA_ID"),
        (key, raw(record_of(fact, {"patient_id": ""})), "MISSING_FIELD"),
        (
            key,
            raw(record_of(fact, {"patient_abo": 7}), schema_where("patient_abo", "int")),
            "BAD_ENUM",
        ),
        (key, raw(record_of(fact, din="A99992612345", din_check=None)), "BAD_DIN"),
        (key, raw(record_of(fact, din_check="*")), "BAD_DIN"),
        (key, b"", "EMPTY"),
        (key, good + b"\x00" * (10 * 1024 * 1024), "TOO_LARGE"),
        (key, raw(record_of(fact, occurred_at=FAR_FUTURE)), "BAD_TIMESTAMP"),
        (key, raw(record_of(fact, occurred_at=datetime(1899, 1, 1, tzinfo=UTC))), "BAD_TIMESTAMP"),
        ("S310126999999", good, "KEY_MISMATCH"),
    ]


def test_each_bad_message_is_dead_lettered_with_its_reason_and_the_stream_flows(
    broker: EmbeddedBroker, topic: str, sqlite_url: str
) -> None:
    good_facts = (
        Timeline(din=din(1)).transfused_cleanly().facts
        + Timeline(din=din(2)).transfused_cleanly().facts
    )
    codec = AvroCodec()
    bad = bad_messages()
    stream: list[tuple[str, bytes]] = []
    for index, fact in enumerate(good_facts):  # interleave: bad input must not stop the flow
        stream.append((fact.din, codec.encode(fact)))
        if index < len(bad):
            stream.append(bad[index][:2])
    publish(
        broker.bootstrap, topic, [(k, v) for k, v in stream if v is not None] + [(bad[7][0], b"")]
    )

    ingested = run_ingest(broker.bootstrap, topic, sqlite_url)
    assert ingested.returncode == 0, ingested.stderr

    found = read_dead_letters(broker.bootstrap, topic, len(bad))
    assert sorted(h[ERROR_CLASS] for _, h in found) == sorted(error for _, _, error in bad)
    for _, headers in found:
        assert headers[ERROR_MESSAGE] and PII_PATIENT not in headers[ERROR_MESSAGE]
    ledger = open_ledger(store_for(sqlite_url))
    try:
        assert stored_facts(ledger) == expected_facts(good_facts)
        result = reconcile_topic(ledger, broker.bootstrap, topic)
    finally:
        ledger.close()
    assert result.ok, result.text()
    assert result.stored == len(good_facts)
    assert result.dead_lettered >= len(bad)  # a producer retry may have sent one twice


def mutations(valid: list[bytes], count: int, seed: int) -> list[bytes]:
    """Random bytes, and valid messages with bytes flipped, cut or inserted."""
    chance = random.Random(seed)
    spoilt: list[bytes] = []
    for _ in range(count):
        value = bytearray(chance.choice(valid))
        kind = chance.randrange(4)
        if kind == 0:
            spoilt.append(chance.randbytes(chance.randrange(0, 200)))
            continue
        if kind == 1:
            value[chance.randrange(len(value))] = chance.randrange(256)
        elif kind == 2:
            del value[chance.randrange(len(value)) :]
        else:
            value.insert(chance.randrange(len(value)), chance.randrange(256))
        spoilt.append(bytes(value))
    return spoilt


def test_fuzzed_messages_through_the_pipeline_lose_nothing(
    broker: EmbeddedBroker, topic: str, sqlite_url: str
) -> None:
    codec = AvroCodec()
    facts = [f for n in range(10, 20) for f in Timeline(din=din(n)).transfused_cleanly().facts]
    valid = [codec.encode(f) for f in facts]
    messages = [(f.din, v) for f, v in zip(facts, valid, strict=True)]
    messages += [(facts[0].din, v) for v in mutations(valid, 400, seed=7)]
    random.Random(8).shuffle(messages)
    publish(broker.bootstrap, topic, messages)

    ingested = run_ingest(broker.bootstrap, topic, sqlite_url)
    assert ingested.returncode == 0, ingested.stderr
    assert "Traceback" not in ingested.stderr

    ledger = open_ledger(store_for(sqlite_url))
    try:
        result = reconcile_topic(ledger, broker.bootstrap, topic)
    finally:
        ledger.close()
    assert result.ok, result.text()
    assert result.records == len(messages)
    assert result.stored >= len(facts)  # a mutation may still be a valid, different fact
