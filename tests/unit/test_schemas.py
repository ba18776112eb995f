"""The Avro files are the contract: names, docs, vocabularies and evolution."""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer

from ledger.adapters.avro import AvroCodec, SchemaManifest, default_schema_dir, frame
from ledger.domain import vocabulary
from ledger.domain.din import check_character
from ledger.domain.facts import NotAFact
from ledger.domain.vocabulary import EventType
from tests.factories import OCCURRED_AT, example_fact

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
V1 = SCHEMAS / "v1"
#: Schema id 2: v1 and the bedside check the ledger records (``PreTransfusionCheckPerformed``).
V2 = SCHEMAS / "v2"
#: Schema id 4 (3 is the outbound ``RecallNotice``): v2 and the facilities' answers to
#: recall notices (``NoticeAcknowledged``).
V3 = SCHEMAS / "v3"
VERSIONS = (V1, V2, V3)
LATEST = V3
#: The Event schema id each version is registered under.
SCHEMA_IDS: dict[Path, int] = {V1: 1, V2: 2, V3: 4}
#: What each version adds to the one before: payload records and enums.
ADDED_RECORDS: dict[Path, set[str]] = {
    V1: set(),
    V2: {"PreTransfusionCheckPerformed"},
    V3: {"NoticeAcknowledged"},
}
ADDED_ENUMS: dict[Path, set[str]] = {V1: set(), V2: {"Decision", "ReasonCode"}, V3: {"AckAction"}}
V1_EVENT_TYPES = [t for t in EventType if t not in ADDED_RECORDS[V2] | ADDED_RECORDS[V3]]
V2_EVENT_TYPES = [t for t in EventType if t not in ADDED_RECORDS[V3]]
TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}
NULLABLE_STRING = ["null", "string"]

#: Field names of the v1 contract (shared/contract/events-v1.md); they are binding.
CONTRACT_FIELDS: dict[str, list[str]] = {
    "Event": [
        "event_id",
        "occurred_at",
        "source",
        "din",
        "din_check",
        "product_code",
        "payload",
    ],
    "Source": ["system", "facility", "actor"],
    "DonationCollected": [
        "donor_id",
        "donation_type",
        "intended_patient_id",
        "procedure",
        "volume_ml",
    ],
    "TestResultRecorded": ["test", "result", "abo", "rhd"],
    "ComponentProduced": ["component", "volume_ml", "units", "abo", "rhd", "expires_at"],
    "UnitReleased": [],
    "UnitQuarantined": ["reason", "case_id"],
    "UnitDiscarded": ["reason"],
    "UnitIssued": ["to_facility", "shipment_id"],
    "UnitReceived": ["temperature_ok"],
    "CrossmatchPerformed": [
        "patient_id",
        "patient_abo",
        "patient_rhd",
        "sample_id",
        "sample_collected_at",
        "method",
        "result",
    ],
    "UnitDispensed": ["patient_id"],
    "UnitReturned": ["minutes_out_of_storage"],
    "TransfusionStarted": ["patient_id", "bedside_check_passed"],
    "TransfusionCompleted": ["patient_id", "volume_ml", "outcome"],
    "AdverseReactionReported": ["patient_id", "category", "severity", "imputability", "onset_at"],
    "TransfusionEvaluated": ["patient_id", "effective", "note"],
    "PreTransfusionCheckPerformed": [
        "patient_id",
        "patient_abo",
        "patient_rhd",
        "decision",
        "reasons",
    ],
    "NoticeAcknowledged": ["notice_id", "action_taken"],
}


def load(name: str, directory: Path = V1) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((directory / f"bloodledger.{name}.avsc").read_text())
    return document


def all_files() -> list[Path]:
    """The files of every version."""
    return sorted(path for version in VERSIONS for path in version.glob("*.avsc"))


def names_in(version: Path) -> set[str]:
    return {json.loads(p.read_text())["name"] for p in version.glob("*.avsc")}


def later(version: Path) -> list[Path]:
    """This version and those after it."""
    return list(VERSIONS[VERSIONS.index(version) :])


# --- files and names ---------------------------------------------------------


def test_each_file_defines_the_named_type_its_name_says() -> None:
    for path in all_files():
        schema = json.loads(path.read_text())
        assert schema["namespace"] == "bloodledger", path.name
        assert path.name == f"bloodledger.{schema['name']}.avsc"
        assert schema["type"] in ("record", "enum")


def not_yet(version: Path) -> tuple[set[str], set[str]]:
    """The records and enums added after ``version``."""
    records = {n for v in VERSIONS[VERSIONS.index(version) + 1 :] for n in ADDED_RECORDS[v]}
    enums = {n for v in VERSIONS[VERSIONS.index(version) + 1 :] for n in ADDED_ENUMS[v]}
    return records, enums


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_there_is_a_file_per_record_and_enum(version: Path) -> None:
    enums = {
        name
        for name, value in vars(vocabulary).items()
        if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
    } - {"EventType", "Flag", "NoticeAction"}  # NoticeAction: the outbound notices' (notices/)
    records_later, enums_later = not_yet(version)
    assert names_in(version) == (set(CONTRACT_FIELDS) - records_later) | (enums - enums_later)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_records_have_the_contract_fields_in_order(version: Path) -> None:
    for name, expected in CONTRACT_FIELDS.items():
        if name in names_in(version):
            assert [f["name"] for f in load(name, version)["fields"]] == expected, name


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_payload_union_members_are_the_event_types(version: Path) -> None:
    payload = next(f for f in load("Event", version)["fields"] if f["name"] == "payload")
    records_later, _ = not_yet(version)
    expected = [f"bloodledger.{t}" for t in EventType if t not in records_later]
    assert payload["type"] == expected


def test_a_version_is_the_one_before_plus_its_additions() -> None:
    """Nothing registered changes: v2 holds v1's files byte for byte, but for the
    envelope, whose payload union only gains the new records at its end."""
    for before, after in itertools.pairwise(VERSIONS):
        for path in before.glob("*.avsc"):
            if path.name != "bloodledger.Event.avsc":
                assert (after / path.name).read_bytes() == path.read_bytes(), path.name
        old, new = load("Event", before), load("Event", after)
        old_union = next(f for f in old["fields"] if f["name"] == "payload")["type"]
        new_fields = [dict(f) for f in new["fields"]]
        new_payload = next(f for f in new_fields if f["name"] == "payload")
        added = new_payload["type"][len(old_union) :]
        assert new_payload["type"][: len(old_union)] == old_union
        assert added == [f"bloodledger.{name}" for name in sorted(ADDED_RECORDS[after])]
        new_payload["type"] = old_union
        assert {**new, "fields": new_fields} == old


def test_the_bedside_check_lists_its_reasons_as_an_array_of_reason_codes() -> None:
    fields = {f["name"]: f["type"] for f in load("PreTransfusionCheckPerformed", V2)["fields"]}
    assert fields["reasons"] == {"type": "array", "items": "bloodledger.ReasonCode"}
    assert fields["decision"] == "bloodledger.Decision"
    assert (fields["patient_abo"], fields["patient_rhd"]) == ("bloodledger.ABO", "bloodledger.RhD")


def test_an_acknowledgement_names_the_notice_and_what_was_done() -> None:
    fields = {f["name"]: f["type"] for f in load("NoticeAcknowledged", V3)["fields"]}
    assert fields == {"notice_id": "string", "action_taken": "bloodledger.AckAction"}


def test_unit_released_is_an_empty_record() -> None:
    assert load("UnitReleased")["fields"] == []


@pytest.mark.parametrize("name", ["ABO", "RhD", "Component", "Test", "Imputability", "ReasonCode"])
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_enums_are_defined_once_and_referenced_by_name(version: Path, name: str) -> None:
    definitions = [p for p in version.glob("*.avsc") if f'"name": "{name}"' in p.read_text()]
    expected = [] if name in not_yet(version)[1] else [version / f"bloodledger.{name}.avsc"]
    assert definitions == expected


def test_enum_symbols_equal_the_vocabulary() -> None:
    for path in all_files():
        schema = json.loads(path.read_text())
        if schema["type"] != "enum":
            continue
        members = [member.value for member in getattr(vocabulary, schema["name"])]
        assert schema["symbols"] == members, schema["name"]


# --- conventions -----------------------------------------------------------------


def test_every_record_enum_and_field_has_a_doc() -> None:
    for path in all_files():
        schema = json.loads(path.read_text())
        assert schema.get("doc", "").strip(), path.name
        for field in schema.get("fields", []):
            assert field.get("doc", "").strip(), f"{path.name}: {field['name']}"


def test_instants_are_timestamp_millis() -> None:
    for path in all_files():
        for field in json.loads(path.read_text()).get("fields", []):
            if field["name"].endswith("_at"):
                assert field["type"] == TIMESTAMP, f"{path.name}: {field['name']}"


def test_nullable_fields_put_null_first_and_default_to_null() -> None:
    for path in all_files():
        for field in json.loads(path.read_text()).get("fields", []):
            if isinstance(field["type"], list) and field["name"] != "payload":
                assert field["type"][0] == "null", f"{path.name}: {field['name']}"
                assert "default" in field, f"{path.name}: {field['name']}"
                assert field["default"] is None


def test_din_check_and_product_code_are_nullable_strings() -> None:
    fields = {f["name"]: f for f in load("Event")["fields"]}
    assert fields["din_check"]["type"] == NULLABLE_STRING
    assert fields["product_code"]["type"] == NULLABLE_STRING


# --- manifest --------------------------------------------------------------------


def test_manifest_maps_ids_1_2_and_4_to_v1_v2_and_v3() -> None:
    manifest = json.loads((SCHEMAS / "manifest.json").read_text())
    assert manifest["subject"] == "bloodledger.events-value"
    events = {sid: path for sid, path in manifest["schemas"].items() if path.endswith("Event.avsc")}
    assert events == {
        "1": "v1/bloodledger.Event.avsc",
        "2": "v2/bloodledger.Event.avsc",
        "4": "v3/bloodledger.Event.avsc",
    }
    loaded = SchemaManifest(SCHEMAS)
    assert loaded.latest_id == 4
    assert loaded.schema_ids == (1, 2, 4)
    assert {loaded.parsed(i)["name"] for i in (1, 2, 4)} == {"bloodledger.Event"}
    assert set(loaded.payload_shapes(1)) == set(V1_EVENT_TYPES)
    assert set(loaded.payload_shapes(2)) == set(V2_EVENT_TYPES)
    assert set(loaded.payload_shapes(4)) == set(EventType)
    assert loaded.payload_shapes(2)["PreTransfusionCheckPerformed"].arrays == ("reasons",)


def test_default_schema_dir_is_the_repos_unless_overridden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BLOODLEDGER_SCHEMAS", raising=False)
    assert default_schema_dir() == SCHEMAS
    monkeypatch.setenv("BLOODLEDGER_SCHEMAS", str(tmp_path))
    assert default_schema_dir() == tmp_path


def test_unknown_ids_are_not_found() -> None:
    manifest = SchemaManifest(SCHEMAS)
    assert 5 not in manifest
    with pytest.raises(KeyError):
        manifest.parsed(5)


# --- the registered ids, side by side ------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "event_type"),
    [(1, t) for t in V1_EVENT_TYPES] + [(2, t) for t in V2_EVENT_TYPES],
)
def test_a_message_written_with_id_1_or_2_is_read_by_the_latest_reader(
    writer: int, event_type: str
) -> None:
    manifest = SchemaManifest(SCHEMAS)
    fact = example_fact(event_type)
    value = AvroCodec(manifest, writer_schema_id=writer, clock=fixed_clock).encode(fact)
    assert value[:5] == b"\x00\x00\x00\x00" + bytes([writer])
    assert AvroCodec(manifest, clock=fixed_clock).decode(value) == fact


def test_the_bedside_check_is_written_with_id_2_and_read_back() -> None:
    manifest = SchemaManifest(SCHEMAS)
    codec = AvroCodec(manifest, writer_schema_id=2, clock=fixed_clock)
    for reasons in ([], ["NOT_RECEIVED_HERE"], ["QUARANTINED", "COLD_CHAIN", "OUT_OF_STORAGE"]):
        fact = example_fact("PreTransfusionCheckPerformed", reasons=reasons)
        value = codec.encode(fact)
        assert value[:5] == b"\x00\x00\x00\x00\x02"
        assert codec.decode(value) == fact


@pytest.mark.parametrize("action", list(vocabulary.AckAction))
def test_an_acknowledgement_is_written_with_id_4_and_read_back(action: str) -> None:
    codec = AvroCodec(SchemaManifest(SCHEMAS), clock=fixed_clock)
    fact = example_fact("NoticeAcknowledged", action_taken=action)
    value = codec.encode(fact)
    assert value[:5] == b"\x00\x00\x00\x00\x04"  # producers write with the latest id
    assert codec.decode(value) == fact


@pytest.mark.parametrize(
    ("overrides", "error_class"),
    [
        ({"action_taken": "LOST"}, "BAD_ENUM"),
        ({"notice_id": ""}, "MISSING_FIELD"),
        ({"product_code": None}, "MISSING_FIELD"),  # unit-level: the notice's unit
    ],
)
def test_an_acknowledgement_is_of_a_unit_with_a_notice_and_an_action(
    overrides: dict[str, Any], error_class: str
) -> None:
    codec = AvroCodec(SchemaManifest(SCHEMAS), clock=fixed_clock)
    with pytest.raises(NotAFact) as caught:
        codec.encode(example_fact("NoticeAcknowledged", **overrides))
    assert caught.value.error_class == error_class


@pytest.mark.parametrize(
    ("older", "event_type"),
    [(1, "PreTransfusionCheckPerformed"), (1, "NoticeAcknowledged"), (2, "NoticeAcknowledged")],
)
def test_an_older_id_knows_no_later_event_type(older: int, event_type: str) -> None:
    manifest = SchemaManifest(SCHEMAS)
    fact = example_fact(event_type)
    with pytest.raises(NotAFact) as written:
        AvroCodec(manifest, writer_schema_id=older, clock=fixed_clock).encode(fact)
    assert written.value.error_class == "UNKNOWN_EVENT_TYPE"
    value = AvroCodec(manifest, clock=fixed_clock).encode(fact)
    with pytest.raises(NotAFact) as read:
        AvroCodec(manifest, reader_schema_id=older, clock=fixed_clock).decode(value)
    assert read.value.error_class == "UNKNOWN_EVENT_TYPE"


@pytest.mark.parametrize(
    ("reasons", "error_class"),
    [(["NOT_A_REASON"], "BAD_ENUM"), ("NOT_RECEIVED_HERE", "UNENCODABLE"), (None, "UNENCODABLE")],
)
def test_reasons_must_be_a_list_of_reason_codes(reasons: Any, error_class: str) -> None:
    codec = AvroCodec(SchemaManifest(SCHEMAS), clock=fixed_clock)
    with pytest.raises(NotAFact) as caught:
        codec.encode(example_fact("PreTransfusionCheckPerformed", reasons=reasons))
    assert caught.value.error_class == error_class


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"schemas": {"1": "v1/bloodledger.Event.avsc"}},
        {"subject": "s", "schemas": {}},
        {"subject": "s", "schemas": {"0": "v1/bloodledger.Event.avsc"}},
        {"subject": "s", "schemas": {"one": "v1/bloodledger.Event.avsc"}},
        {"subject": "s", "schemas": {"1": "v1/bloodledger.Event.json"}},
    ],
)
def test_a_malformed_manifest_is_refused(tmp_path: Path, document: Any) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"manifest\.json"):
        SchemaManifest(tmp_path)


# --- evolution -------------------------------------------------------------------

CARRIER = {
    "name": "carrier",
    "type": ["null", "string"],
    "default": None,
    "doc": "Courier that carried the shipment; null if not known.",
}
TRACE_ID = {
    "name": "trace_id",
    "type": ["null", "string"],
    "default": None,
    "doc": "Producer's tracing id; null if none.",
}


def evolved_schemas(root: Path) -> SchemaManifest:
    """A manifest with v1 (id 1) and a v2 (id 2) that adds optional fields."""
    shutil.copytree(V1, root / "v1")
    shutil.copytree(V1, root / "v2")
    for name, field in (("UnitIssued", CARRIER), ("Event", TRACE_ID)):
        schema = load(name, root / "v2")
        schema["fields"].append(field)
        (root / "v2" / f"bloodledger.{name}.avsc").write_text(json.dumps(schema))
    manifest = {
        "subject": "bloodledger.events-value",
        "schemas": {"1": "v1/bloodledger.Event.avsc", "2": "v2/bloodledger.Event.avsc"},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return SchemaManifest(root)


def fixed_clock() -> datetime:
    return OCCURRED_AT


@pytest.fixture
def evolved(tmp_path: Path) -> SchemaManifest:
    return evolved_schemas(tmp_path)


def test_the_latest_id_is_the_highest(evolved: SchemaManifest) -> None:
    assert evolved.latest_id == 2
    assert "carrier" in evolved.payload_shapes(2)["UnitIssued"].fields
    assert "carrier" not in evolved.payload_shapes(1)["UnitIssued"].fields


@pytest.mark.parametrize("event_type", V1_EVENT_TYPES)
def test_a_v1_message_is_read_by_the_v2_reader(evolved: SchemaManifest, event_type: str) -> None:
    codec = AvroCodec(evolved, writer_schema_id=1, clock=fixed_clock)
    fact = example_fact(event_type)
    value = codec.encode(fact)
    assert value[:5] == b"\x00\x00\x00\x00\x01"
    decoded = codec.decode(value)
    if event_type == "UnitIssued":
        assert decoded == replace(fact, payload={**fact.payload, "carrier": None})
    else:
        assert decoded == fact


def test_a_v2_message_is_read_by_the_v1_reader(evolved: SchemaManifest) -> None:
    codec = AvroCodec(evolved, writer_schema_id=2, reader_schema_id=1, clock=fixed_clock)
    v1_fact = example_fact("UnitIssued")
    v2_fact = replace(v1_fact, payload={**v1_fact.payload, "carrier": "Cold Chain Couriers"})
    value = codec.encode(v2_fact)
    assert value[:5] == b"\x00\x00\x00\x00\x02"
    assert codec.decode(value) == v1_fact


def test_a_new_envelope_field_is_ignored_by_the_v1_reader(evolved: SchemaManifest) -> None:
    fact = example_fact("UnitDispensed")
    record = {
        "event_id": fact.event_id,
        "occurred_at": fact.occurred_at,
        "source": {"system": fact.source_system, "facility": fact.facility, "actor": None},
        "din": fact.din,
        "din_check": check_character(fact.din),
        "product_code": fact.product_code,
        "payload": ("bloodledger.UnitDispensed", dict(fact.payload)),
        "trace_id": "trace-1",
    }
    body = BytesIO()
    schemaless_writer(body, evolved.parsed(2), record)
    codec = AvroCodec(evolved, reader_schema_id=1, clock=fixed_clock)
    assert codec.decode(frame(2, body.getvalue())) == fact
