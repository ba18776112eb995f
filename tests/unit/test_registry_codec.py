"""Writer schemas only a schema registry has: resolved by Avro's rules before any message
is read with them, asked for once, refused with a reason, waited for while the registry
cannot answer — through the codec and through the ingest's loop (in-memory doubles of
the registry, consumer, dead-letter sink and store; the registry over HTTP is in
``tests/integration/test_schema_registry.py``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ledger.adapters.avro import AvroCodec, RegistryDisagrees, frame
from ledger.adapters.avro_catalogue import SchemaCatalogue
from ledger.domain.facts import ErrorClass, NotAFact
from ledger.services.ingest import Ingestor, IngestSettings
from ledger.services.ports import RegisteredSchema, SchemaRegistryUnavailable
from tests.factories import PATIENT_ID, example_fact
from tests.integration.support import stored_facts
from tests.support.producers import contract_record, framed_with
from tests.support.proposals import (
    NEW_ID,
    add_granulocytes,
    add_optional_site,
    proposal,
    register,
    volume_as_string,
)
from tests.unit.test_ingest import TOPIC, Broker, Consumer, DeadLetters, DeadLetterTopic, Ledger


@dataclass
class Registry:
    """A schema registry holding a catalogue's schemas, counting what it is asked; it can
    be made unavailable (each ask then fails) and hold extra schemas by id."""

    catalogue: SchemaCatalogue
    extra: dict[int, RegisteredSchema] = field(default_factory=dict)
    asked: list[int] = field(default_factory=list)
    down_for: int = 0

    def schema(self, schema_id: int) -> RegisteredSchema | None:
        if self.down_for:
            self.down_for -= 1
            msg = "http://registry.test/schemas/ids/5: [Errno 111] Connection refused"
            raise SchemaRegistryUnavailable(msg)
        self.asked.append(schema_id)
        if schema_id in self.extra:
            return self.extra[schema_id]
        version = self.catalogue.by_id(schema_id)
        return None if version is None else RegisteredSchema(version.text)


def newer(tmp_path: Path) -> Path:
    """The schemas and id 5: ``Source`` with an optional ``site``."""
    return proposal(tmp_path, {"bloodledger.Source.avsc": add_optional_site})


def envelope(event_type: str, **payload: object) -> dict[str, object]:
    """An example fact as a producer on the newer schema holds it (``site`` set)."""
    return contract_record(example_fact(event_type, **payload), site="ward 3")


def test_a_newer_writer_schema_is_read_into_the_contracts_and_asked_for_once(
    tmp_path: Path,
) -> None:
    schemas = newer(tmp_path)
    registry = Registry(SchemaCatalogue(schemas))
    codec = AvroCodec(registry=registry)
    records = [envelope("UnitReleased"), envelope("CrossmatchPerformed")] * 25
    facts = [codec.decode(framed_with(schemas, NEW_ID, r)) for r in records]
    assert [f.event_id for f in facts] == [r["event_id"] for r in records]
    assert facts[1].payload["patient_id"] == PATIENT_ID
    # ``site`` is not a field of the contract's reader: it is dropped.
    assert {f.source_system for f in facts} == {"test-system"}
    # The manifest's ids compared once (the registry's are the manifest's), id 5 asked once.
    assert registry.asked == [1, 2, 4, NEW_ID]
    assert codec.decode(AvroCodec().encode(example_fact("UnitReleased")))  # ids 1-4: no asking
    assert registry.asked == [1, 2, 4, NEW_ID]


def test_an_id_the_registry_does_not_have_is_dead_lettered_and_asked_for_once(
    tmp_path: Path,
) -> None:
    registry = Registry(SchemaCatalogue(newer(tmp_path)))
    codec = AvroCodec(registry=registry)
    value = frame(77, b"\x00" * 40)
    for _ in range(3):
        with pytest.raises(NotAFact) as caught:
            codec.decode(value)
        assert caught.value.error_class == ErrorClass.UNKNOWN_SCHEMA_ID
        assert (
            caught.value.message == "schema id is in neither the manifest nor the schema registry"
        )
    assert registry.asked.count(77) == 1
    with pytest.raises(NotAFact, match="schema id is not in the manifest"):
        AvroCodec().decode(value)


def test_a_schema_that_cannot_be_read_into_the_contracts_is_refused_with_where(
    tmp_path: Path,
) -> None:
    schemas = proposal(tmp_path, {"bloodledger.DonationCollected.avsc": volume_as_string})
    registry = Registry(SchemaCatalogue(schemas))
    codec = AvroCodec(registry=registry)
    secret = "donor-8f3a"
    value = framed_with(schemas, NEW_ID, {**envelope("UnitReleased"),
                                           "source": {"system": secret, "facility": "A9999",
                                                      "actor": None}})  # fmt: skip
    for _ in range(2):  # even a message of another event type: the schema is not readable
        with pytest.raises(NotAFact) as caught:
            codec.decode(value)
        reason = caught.value
        assert reason.error_class == ErrorClass.INCOMPATIBLE_SCHEMA
        assert "Event.payload.DonationCollected.volume_ml" in reason.message
        assert "TYPE_MISMATCH" in reason.message and "(id 4)" in reason.message
        assert secret not in str(reason)
    assert registry.asked.count(NEW_ID) == 1


def test_a_new_event_type_or_symbol_narrows_only_the_messages_that_use_it(
    tmp_path: Path,
) -> None:
    """What the reader lacks (here an enum symbol) fails the messages using it, as a
    manifest id's would (``BAD_ENUM``); the schema's other messages are read."""
    schemas = proposal(tmp_path, {"bloodledger.Component.avsc": add_granulocytes})
    codec = AvroCodec(registry=Registry(SchemaCatalogue(schemas)))
    produced = envelope("ComponentProduced")
    assert codec.decode(framed_with(schemas, NEW_ID, produced)).event_type == "ComponentProduced"
    payload = dict(produced["payload"][1])  # type: ignore[index]
    granulocytes = {**produced, "payload": ("bloodledger.ComponentProduced",
                                            {**payload, "component": "GRANULOCYTES"})}  # fmt: skip
    with pytest.raises(NotAFact) as caught:
        codec.decode(framed_with(schemas, NEW_ID, granulocytes))
    assert caught.value.error_class == ErrorClass.BAD_ENUM


@pytest.mark.parametrize(
    ("registered", "why"),
    [
        (RegisteredSchema('{"type": "string"}', schema_type="JSON"), "is JSON, not Avro"),
        (RegisteredSchema('"bloodledger.Event"', references=("events-value",)), "references"),
        (RegisteredSchema("{not a schema"), "is not JSON"),
        (RegisteredSchema('"string"'), "TYPE_MISMATCH"),
    ],
)
def test_what_the_codec_cannot_read_on_its_own_is_refused(
    registered: RegisteredSchema, why: str
) -> None:
    registry = Registry(SchemaCatalogue(), extra={9: registered})
    with pytest.raises(NotAFact) as caught:
        AvroCodec(registry=registry).decode(frame(9, b"\x02x"))
    assert caught.value.error_class == ErrorClass.INCOMPATIBLE_SCHEMA
    assert why in caught.value.message


def test_a_registry_with_another_schema_under_a_manifest_id_is_refused(tmp_path: Path) -> None:
    """Its producers' messages framed with that id would be read with the manifest's
    schema: misread. The ledger refuses to read through such a registry."""
    schemas = newer(tmp_path)
    register(schemas, 2, "v4/bloodledger.Event.avsc")
    codec = AvroCodec(registry=Registry(SchemaCatalogue(schemas)))
    with pytest.raises(RegistryDisagrees, match="schema id 2 is not the manifest's"):
        codec.check_registry()


def test_while_the_registry_cannot_answer_nothing_is_decided(tmp_path: Path) -> None:
    schemas = newer(tmp_path)
    registry = Registry(SchemaCatalogue(schemas), down_for=2)
    codec = AvroCodec(registry=registry)
    value = framed_with(schemas, NEW_ID, envelope("UnitReleased"))
    for _ in range(2):
        with pytest.raises(SchemaRegistryUnavailable):
            codec.decode(value)
    assert codec.decode(value).event_type == "UnitReleased"  # asked again, and read
    assert registry.asked == [1, 2, 4, NEW_ID]


def test_the_ingest_waits_for_the_registry_and_stores_the_record_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A record whose schema only the registry has, while the registry is down: the ingest
    logs and waits (the batch is neither stored nor dead-lettered), then stores every
    record once when the registry answers."""
    schemas = newer(tmp_path)
    registry = Registry(SchemaCatalogue(schemas), down_for=4)
    broker = Broker(partitions=1)
    plain = [example_fact("UnitReleased", din=f"A99992612345{n}") for n in range(3)]
    for fact in plain[:2]:
        broker.append(0, fact.din.encode(), AvroCodec().encode(fact))
    newer_record = envelope("UnitReleased")
    broker.append(0, str(newer_record["din"]).encode(), framed_with(schemas, NEW_ID, newer_record))
    broker.append(0, plain[2].din.encode(), AvroCodec().encode(plain[2]))
    events: list[str] = []
    ledger = Ledger(events)
    dead_letters = DeadLetters(events, DeadLetterTopic())
    settings = IngestSettings(TOPIC, until_idle=0.05, retry_pause=0.01)
    ingestor = Ingestor(ledger, Consumer(broker), dead_letters, AvroCodec(registry=registry),
                        settings)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="bloodledger.retry"):
        counters = ingestor.run()
    assert registry.down_for == 0  # it was asked while down, four times
    assert (counters.records, counters.stored, counters.dead_lettered) == (4, 4, 0)
    assert dead_letters.sent == []
    assert events.count("batch recorded") == 1  # the batch waited whole, then was stored
    expected = {fact.event_id for fact in plain} | {newer_record["event_id"]}
    assert sorted(event_id for _, event_id in stored_facts(ledger).elements()) == sorted(expected)
    waits = [
        r.getMessage() for r in caplog.records if "schema registry unavailable" in r.getMessage()
    ]
    assert waits  # said while it waited, each time naming the record and why
    for wait in waits:
        assert wait.startswith(f"decoding {TOPIC}[0]@2: schema registry unavailable (")
        assert "Connection refused" in wait and "retrying in" in wait
