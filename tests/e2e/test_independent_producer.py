"""End to end with an independent producer: librdkafka (confluent-kafka) sends
messages framed and Avro-encoded here with fastavro straight from the schema
files, not with the ledger's codec; the ledger's CLI ingests and replays them.
"""

from __future__ import annotations

import io
import json
import struct
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer

from ledger.adapters.broker import EmbeddedBroker
from tests.integration.support import run_cli, run_ingest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
DIN = "S310126123456"
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def writer_schema() -> tuple[int, Any]:
    manifest = json.loads((SCHEMAS / "manifest.json").read_text())
    schema_id, path = max((int(k), v) for k, v in manifest["schemas"].items())
    return schema_id, fastavro.parse_schema(fastavro.schema.load_schema(str(SCHEMAS / path)))


def envelope(
    event_type: str, hours: float, product_code: str | None, facility: str, **payload: Any
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": T0 + timedelta(hours=hours),
        "source": {"system": "rdkafka-test", "facility": facility, "actor": None},
        "din": DIN,
        "din_check": None,
        "product_code": product_code,
        "payload": (f"bloodledger.{event_type}", payload),
    }


def story() -> list[dict[str, Any]]:
    rbc = "E0791V00"
    return [
        envelope(
            "DonationCollected",
            0,
            None,
            "S3101",
            donor_id="D424242",
            donation_type="VOLUNTARY",
            intended_patient_id=None,
            procedure="WHOLE_BLOOD",
            volume_ml=400,
        ),
        envelope(
            "ComponentProduced",
            2,
            rbc,
            "S3101",
            component="RED_CELLS",
            volume_ml=280,
            units=2.0,
            abo="O",
            rhd="NEG",
            expires_at=T0 + timedelta(days=35),
        ),
        envelope(
            "TestResultRecorded",
            4,
            None,
            "S3101",
            test="HIV_NAT",
            result="NEGATIVE",
            abo=None,
            rhd=None,
        ),
        envelope("UnitReleased", 6, rbc, "S3101"),
        envelope("UnitIssued", 8, rbc, "S3101", to_facility="S3102", shipment_id="SHP-1"),
        envelope("UnitReceived", 10, rbc, "S3102", temperature_ok=True),
        envelope(
            "TransfusionStarted", 20, rbc, "S3102", patient_id="P777777", bedside_check_passed=True
        ),
    ]


def test_librdkafka_producer_to_ledger_cli(
    broker: EmbeddedBroker, topic: str, tmp_path: Path
) -> None:
    schema_id, schema = writer_schema()
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    events = story()
    for event in events:
        body = io.BytesIO()
        fastavro.schemaless_writer(body, schema, event)
        producer.produce(
            topic, key=DIN.encode(), value=struct.pack(">bI", 0, schema_id) + body.getvalue()
        )
    assert producer.flush(30) == 0

    store = f"sqlite:///{tmp_path / 'e2e.db'}"
    ingested = run_ingest(broker.bootstrap, topic, store)
    assert ingested.returncode == 0, ingested.stderr
    assert f"stored {len(events)}" in ingested.stderr

    shown = run_cli("history", DIN, "--json", "--store", store)
    assert shown.returncode == 0, shown.stderr
    [unit] = json.loads(shown.stdout)["units"]
    assert unit["state"]["status"] == "IN_TRANSFUSION"
    assert unit["state"]["facility"] == "S3102"
    assert (unit["state"]["abo"], unit["state"]["rhd"]) == ("O", "NEG")
    assert unit["state"]["flags"] == ["NO_VALID_CROSSMATCH"]  # red cells with no crossmatch at all
    assert [e["event_id"] for e in unit["events"]] == [e["event_id"] for e in events]

    text = run_cli("history", DIN, "--store", store)
    assert "NO_VALID_CROSSMATCH" in text.stdout and "TransfusionStarted" in text.stdout
