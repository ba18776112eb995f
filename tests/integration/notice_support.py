"""Reading a notices topic as a hospital would, with nothing of the ledger's: librdkafka
(confluent-kafka) fetches, and the Confluent frame and Avro body are read with fastavro
straight from ``schemas/notices/``."""

from __future__ import annotations

import io
import json
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True)
class Published:
    """One record of the notices topic: its key, the writer schema id, the notice."""

    key: str
    schema_id: int
    notice: dict[str, Any]


def _schemas() -> dict[int, Any]:
    manifest = json.loads((SCHEMAS / "manifest.json").read_text())
    return {
        int(sid): fastavro.parse_schema(fastavro.schema.load_schema(str(SCHEMAS / path)))
        for sid, path in manifest["notices"]["schemas"].items()
    }


def read_notices(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 30
) -> list[Published]:
    """Every record of every partition of ``topic`` (at least ``at_least``, then until
    none comes for a second), decoded independently. Assigned, not subscribed: a group
    join against the embedded broker takes librdkafka many seconds."""
    schemas = _schemas()
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "notice-reader", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(partitions)])
    found: list[Published] = []
    try:
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                if len(found) >= at_least and time.monotonic() - quiet_since > 1.0:
                    break
                continue
            quiet_since = time.monotonic()
            value = message.value()
            magic, schema_id = struct.unpack(">bI", value[:5])
            assert magic == 0
            notice = fastavro.schemaless_reader(io.BytesIO(value[5:]), schemas[schema_id], None)
            found.append(Published(message.key().decode(), schema_id, notice))
    finally:
        consumer.close()
    return found
