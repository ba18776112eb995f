"""The contract's Schema Registry over real HTTP, with Confluent's own client; writer
schemas only a registry has, through the real broker into the store.

- ``bloodledger serve``'s application (the API with the registry at ``/registry``), on
  uvicorn: confluent-kafka's ``SchemaRegistryClient`` and ``AvroSerializer`` (never
  registering, using the latest version) produce the demo stream to the embedded broker,
  with the manifest's ids; the ingest stores every fact exactly once, and reconciles.
- The registry serving a newer schema (id 5: an optional field added): the ingest asks
  for id 5 once, reads the messages into the contract's schema, stores them.
- The registry client (``ledger.adapters.registry``) against a registry, the API without
  ``/registry``, a closed port, credentials in the URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from ledger.adapters.avro import SchemaManifest
from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.persistence import store_for
from ledger.adapters.registry import HttpSchemaRegistry
from ledger.bootstrap import KafkaSettings, event_decoder, ingestor, open_ledger, reconcile_topic
from ledger.entrypoints.api import create_app
from ledger.entrypoints.registry import contract_registry
from ledger.entrypoints.serve import Served
from ledger.services.ingest import IngestCounters, IngestSettings
from ledger.services.ports import SchemaRegistryUnavailable
from simulator import DemoConfig, generate
from tests.integration.support import expected_facts, stored_facts
from tests.support.producers import contract_record
from tests.support.proposals import NEW_ID, add_optional_site, proposal
from tests.support.servers import Recorded, free_port, serving

SMALL = DemoConfig(days=2, hospitals=1, donations_per_day=6)
MANIFEST = SchemaManifest()


def produce(bootstrap: str, topic: str, serializer: AvroSerializer,
            records: list[dict[str, Any]]) -> list[bytes]:  # fmt: skip
    """Each record serialized by Confluent's serializer and produced keyed by its DIN;
    the values as produced."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5})  # fmt: skip
    context = SerializationContext(topic, MessageField.VALUE)
    values = []
    for record in records:
        value = serializer(record, context)
        values.append(value)
        producer.produce(topic, key=record["din"].encode(), value=value)
    assert producer.flush(30) == 0
    return values


def ingest(bootstrap: str, topic: str, url: str, registry: str | None = None) -> IngestCounters:
    ledger = open_ledger(store_for(url))
    try:
        kafka = KafkaSettings(bootstrap=bootstrap, topic=topic, group=f"g-{uuid.uuid4().hex[:8]}")
        settings = IngestSettings(topic=topic, until_idle=2.0, max_records=500)
        decoder = event_decoder(registry)
        return ingestor(ledger, kafka, settings, decoder=decoder).run()
    finally:
        ledger.close()


def schema_id_of(value: bytes) -> int:
    assert value[0] == 0
    return int.from_bytes(value[1:5], "big")


@pytest.fixture
def ledger_server(sqlite_url: str, topic: str) -> Iterator[str]:
    """``bloodledger serve``'s application for ``topic``, over HTTP: its base URL."""
    served = Served(store_for(sqlite_url), topic=topic)
    try:
        with serving(create_app(served.services)) as url:
            yield url
    finally:
        served.close()


def test_confluents_serializer_through_the_ledgers_registry_is_ingested_exactly_once(
    broker: EmbeddedBroker, topic: str, ledger_server: str, tmp_path: Path
) -> None:
    client = SchemaRegistryClient({"url": f"{ledger_server}/registry"})
    latest = AvroSerializer(client, conf={"auto.register.schemas": False,
                                          "use.latest.version": True})  # fmt: skip
    stream = generate(SMALL)
    values = produce(broker.bootstrap, topic, latest, [contract_record(f) for f in stream.facts])
    assert {schema_id_of(v) for v in values} == {MANIFEST.latest_id}  # the manifest's, 4
    # A producer still on schema id 1: it names its schema, the registry says its id.
    v1 = client.get_schema(1).schema_str
    old = AvroSerializer(client, v1, conf={"auto.register.schemas": False})
    early = [f for f in generate(DemoConfig(seed=7, days=1, hospitals=1, donations_per_day=2)).facts
             if f.event_type in ("DonationCollected", "TestResultRecorded")]  # fmt: skip
    assert early
    old_values = produce(broker.bootstrap, topic, old, [contract_record(f) for f in early])
    assert {schema_id_of(v) for v in old_values} == {1}

    store = f"sqlite:///{tmp_path / 'ingested.db'}"
    counters = ingest(broker.bootstrap, topic, store)
    facts = [*stream.facts, *early]
    assert counters.records == len(facts)
    assert (counters.dead_lettered, counters.duplicates) == (0, stream.resent)
    ledger = open_ledger(store_for(store))
    try:
        assert stored_facts(ledger) == expected_facts(facts)
        reconciled = reconcile_topic(ledger, broker.bootstrap, topic)
        assert reconciled.ok and reconciled.stored == len({f.event_id for f in facts})
    finally:
        ledger.close()


def test_the_registry_needs_no_token_and_takes_confluents_query_parameters(
    ledger_server: str,
) -> None:
    with httpx.Client(base_url=ledger_server, timeout=10) as http:
        found = http.get("/registry/schemas/ids/4?fetchMaxId=false&subject=x&format=")
        assert found.status_code == 200
        assert found.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
        refused = http.post("/registry/subjects/bloodledger.events-value/versions?normalize=false",
                            json={"schema": found.json()["schema"]})  # fmt: skip
        assert (refused.status_code, refused.json()["error_code"]) == (422, 42205)
        # The API itself keeps its rules: a token, and no parameter it does not take.
        assert http.get("/api/v1/inventory").status_code == 401
        assert http.get("/healthz?deleted=true").status_code == 422
        assert "bloodledger_http_requests" in http.get("/metrics").text


def test_a_newer_writer_schema_from_the_registry_is_asked_for_once_and_stored(
    broker: EmbeddedBroker, topic: str, tmp_path: Path, sqlite_url: str
) -> None:
    newer = proposal(tmp_path, {"bloodledger.Source.avsc": add_optional_site})
    registry = Recorded(contract_registry(newer, topic))
    with serving(registry) as base:
        url = f"{base}/"  # a registry at the root, as a Confluent one is
        client = SchemaRegistryClient({"url": url})
        serializer = AvroSerializer(client, conf={"auto.register.schemas": False,
                                                  "use.latest.version": True})  # fmt: skip
        stream = generate(SMALL)
        records = [contract_record(f, site="ward 7") for f in stream.facts]
        values = produce(broker.bootstrap, topic, serializer, records)
        assert {schema_id_of(v) for v in values} == {NEW_ID}
        producer_requests = len(registry.requests)

        counters = ingest(broker.bootstrap, topic, sqlite_url, registry=url)
        assert counters.records == len(records) and counters.dead_lettered == 0
        asked = registry.paths()[producer_requests:]
        assert asked.count(f"/schemas/ids/{NEW_ID}") == 1  # one request for id 5, ever
        assert sorted(asked) == sorted(f"/schemas/ids/{i}" for i in (1, 2, 4, NEW_ID))
        ledger = open_ledger(store_for(sqlite_url))
        try:
            assert stored_facts(ledger) == expected_facts(stream.facts)
            assert reconcile_topic(ledger, broker.bootstrap, topic, schema_registry=url).ok
            assert not reconcile_topic(ledger, broker.bootstrap, topic).ok  # id 5: unknown
        finally:
            ledger.close()


def test_the_registry_client_tells_not_there_from_cannot_tell(
    ledger_server: str, tmp_path: Path
) -> None:
    ours = HttpSchemaRegistry(f"{ledger_server}/registry/")
    found = ours.schema(4)
    assert found is not None and found.schema_type == "AVRO" and found.references == ()
    assert ours.schema(99) is None  # 404 with 40403: no such schema
    without_prefix = HttpSchemaRegistry(ledger_server)  # the API's own 404: not a registry
    with pytest.raises(SchemaRegistryUnavailable, match="HTTP 404 \\(not a registry's error\\)"):
        without_prefix.schema(4)
    closed = HttpSchemaRegistry(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(SchemaRegistryUnavailable, match="refused"):
        closed.schema(4)


def test_credentials_in_the_url_are_sent_as_basic_authentication_and_never_shown() -> None:
    registry = Recorded(contract_registry())
    with serving(registry) as base:
        secured = base.replace("http://", "http://api-key:s%40cret@")
        client = HttpSchemaRegistry(secured)
        assert client.schema(1) is not None
        assert "s@cret" not in repr(client) and "api-key" not in client.base
    [(_, _, _, headers)] = registry.requests
    assert headers["authorization"] == "Basic YXBpLWtleTpzQGNyZXQ="  # api-key:s@cret
    assert headers["accept"].startswith("application/vnd.schemaregistry.v1+json")
    with pytest.raises(ValueError, match="must be http") as refused:
        HttpSchemaRegistry("htps://api-key:s3cret@registry:8081")
    assert "s3cret" not in str(refused.value)
