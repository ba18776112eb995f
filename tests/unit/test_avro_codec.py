"""The Avro codec: round trips, every reason a message is not a fact, robustness."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import fastavro.schema
import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.adapters import avro
from ledger.adapters.avro import AvroCodec, SchemaManifest, frame, unframe
from ledger.adapters.contract_json import encode_json_lines, fact_from_json, fact_to_json
from ledger.domain import vocabulary
from ledger.domain.din import check_character
from ledger.domain.facts import ErrorClass, NotAFact, ReportedFact
from ledger.domain.vocabulary import ABO, DonationType, EventType, RhD
from tests.factories import OCCURRED_AT, example_fact

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
MANIFEST = SchemaManifest(SCHEMAS)
NOW = OCCURRED_AT + timedelta(hours=1)
PII_DONOR = "DONOR-SECRET-4711"
PII_PATIENT = "PATIENT-SECRET-0815"


def clock() -> datetime:
    return NOW


CODEC = AvroCodec(MANIFEST, clock=clock)


def crossmatch(**overrides: Any) -> ReportedFact:
    """A unit-level fact carrying a patient pseudonym."""
    return example_fact("CrossmatchPerformed", patient_id=PII_PATIENT, **overrides)


def donation(**overrides: Any) -> ReportedFact:
    """A donation-level fact carrying donor and patient pseudonyms."""
    pseudonyms: dict[str, Any] = {
        "donor_id": PII_DONOR,
        "donation_type": DonationType.DIRECTED,
        "intended_patient_id": PII_PATIENT,
    }
    return example_fact("DonationCollected", **{**pseudonyms, **overrides})


def record_of(fact: ReportedFact, payload: dict[str, Any] | None = None, **envelope: Any) -> Any:
    """The ``Event`` record of a fact as fastavro writes it, with overrides."""
    record = {
        "event_id": fact.event_id,
        "occurred_at": fact.occurred_at,
        "source": {"system": fact.source_system, "facility": fact.facility, "actor": fact.actor},
        "din": fact.din,
        "din_check": check_character(fact.din),
        "product_code": fact.product_code,
        "payload": (f"bloodledger.{fact.event_type}", {**fact.payload, **(payload or {})}),
    }
    record.update(envelope)
    return record


def raw(record: Any, schema: Any = None, schema_id: int = 1) -> bytes:
    """Frame a record written straight with fastavro, bypassing the codec's checks."""
    body = BytesIO()
    schemaless_writer(body, schema if schema is not None else MANIFEST.parsed(1), record)
    return frame(schema_id, body.getvalue())


def schema_where(field: str, avro_type: Any) -> Any:
    """The v1 envelope with every field named ``field`` retyped (same wire shape)."""

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for member in node:
                walk(member)
        elif isinstance(node, dict):
            for item in node.get("fields", ()):
                if item["name"] == field:
                    item["type"] = avro_type
                walk(item["type"])

    definition = MANIFEST.definition(1)
    walk(definition)
    return parse_schema(definition)


def good() -> bytes:
    return CODEC.encode(crossmatch())


def with_source(**source: Any) -> bytes:
    fact = crossmatch()
    base = {"system": fact.source_system, "facility": fact.facility, "actor": None}
    return raw(record_of(fact, source={**base, **source}))


# --- round trips -----------------------------------------------------------------


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_type_round_trips(event_type: str) -> None:
    fact = example_fact(event_type)
    assert CODEC.decode(CODEC.encode(fact)) == fact


@pytest.mark.parametrize(
    "fact",
    [
        example_fact("UnitIssued", actor="staff-7", shipment_id=None),
        example_fact("TestResultRecorded", test="ABO_RHD", abo=ABO.AB, rhd=RhD.NEG),
        example_fact("TestResultRecorded", result=vocabulary.TestResult.REACTIVE),
        donation(donation_type=DonationType.AUTOLOGOUS),
        example_fact("UnitQuarantined", case_id="LB-2026-17"),
        example_fact("TransfusionEvaluated", effective=False, note="Hb rise below target"),
        example_fact("TransfusionStarted", bedside_check_passed=False, facility="B1234"),
        example_fact("ComponentProduced", units=0.5, product_code="E4012V0a"),
        example_fact("UnitDispensed", patient_id="患者-0001"),
    ],
    ids=lambda fact: fact.event_type,
)
def test_optional_and_unusual_values_round_trip(fact: ReportedFact) -> None:
    assert CODEC.decode(CODEC.encode(fact)) == fact


def test_decoded_values_are_plain_python() -> None:
    fact = CODEC.decode(CODEC.encode(crossmatch()))
    assert fact.event_type == "CrossmatchPerformed"
    assert type(fact.payload["patient_abo"]) is str
    assert fact.occurred_at.tzinfo is UTC
    assert fact.payload["sample_collected_at"].tzinfo is UTC


def test_instants_are_kept_to_the_millisecond_in_utc() -> None:
    plus_eight = timezone(timedelta(hours=8))
    occurred = datetime(2026, 3, 1, 16, 0, 0, 123456, tzinfo=plus_eight)
    decoded = CODEC.decode(CODEC.encode(example_fact("UnitReleased", occurred_at=occurred)))
    assert decoded.occurred_at == datetime(2026, 3, 1, 8, 0, 0, 123000, tzinfo=UTC)


def test_the_value_is_confluent_framed_with_the_din_check_character() -> None:
    fact = crossmatch()
    schema_id, body = unframe(CODEC.encode(fact))
    assert schema_id == MANIFEST.latest_id == 4  # producers write with the latest id
    record: Any = schemaless_reader(BytesIO(body), MANIFEST.parsed(schema_id), None)
    assert record["din_check"] == check_character(fact.din)
    assert record["din"] == fact.din


def test_frame_and_unframe_are_inverse() -> None:
    assert frame(258, b"avro") == b"\x00\x00\x00\x01\x02avro"
    assert unframe(b"\x00\x00\x00\x01\x02avro") == (258, b"avro")
    with pytest.raises(ValueError, match="4 unsigned bytes"):
        frame(2**32, b"")
    with pytest.raises(NotAFact) as caught:
        unframe(b"\x01\x00\x00\x00\x01")
    assert caught.value.error_class == "BAD_MAGIC"


# --- messages that are not facts ---------------------------------------------------

CASES: list[tuple[str, str, Callable[[], bytes | None]]] = [
    ("EMPTY", "none", lambda: None),
    ("EMPTY", "no bytes", lambda: b""),
    ("BAD_MAGIC", "magic 1", lambda: b"\x01" + good()[1:]),
    ("BAD_MAGIC", "json", lambda: json.dumps({"patient_id": PII_PATIENT}).encode()),
    ("TRUNCATED", "3 bytes", lambda: good()[:3]),
    ("TRUNCATED", "header only", lambda: good()[:5]),
    ("TRUNCATED", "last byte cut", lambda: good()[:-1]),
    ("TRUNCATED", "cut in a string", lambda: good()[: good().index(PII_PATIENT.encode()) + 4]),
    ("UNKNOWN_SCHEMA_ID", "id 999", lambda: frame(999, good()[5:])),
    ("UNKNOWN_SCHEMA_ID", "id 0", lambda: frame(0, good()[5:])),
    ("UNDECODABLE", "trailing byte", lambda: good() + b"\x00"),
    ("UNDECODABLE", "overlong varint", lambda: frame(1, b"\xff" * 16)),
    ("UNDECODABLE", "string length < 0", lambda: frame(1, b"\x01" + good()[6:])),
    (
        "UNDECODABLE",
        "invalid UTF-8",
        lambda: raw(
            record_of(crossmatch(), event_id=b"\xff\xfe"), schema_where("event_id", "bytes")
        ),
    ),
    (
        "UNDECODABLE",
        "payload branch 40",
        lambda: raw(
            {**record_of(crossmatch()), "payload": 40},
            schema_where("payload", "int"),
        ),
    ),
    ("MISSING_FIELD", "event_id", lambda: raw(record_of(crossmatch(), event_id=""))),
    ("MISSING_FIELD", "source.system", lambda: with_source(system="")),
    ("MISSING_FIELD", "source.facility", lambda: with_source(facility="")),
    ("MISSING_FIELD", "din", lambda: raw(record_of(crossmatch(), din="", din_check=None))),
    ("MISSING_FIELD", "product_code", lambda: raw(record_of(crossmatch(), product_code=None))),
    ("MISSING_FIELD", "patient_id", lambda: raw(record_of(crossmatch(), {"patient_id": ""}))),
    ("MISSING_FIELD", "donor_id", lambda: raw(record_of(donation(), {"donor_id": ""}))),
    (
        "MISSING_FIELD",
        "quarantine reason",
        lambda: raw(record_of(example_fact("UnitQuarantined"), {"reason": ""})),
    ),
    (
        "BAD_ENUM",
        "enum index 9",
        lambda: raw(
            record_of(crossmatch(), {"patient_abo": 9}), schema_where("patient_abo", "int")
        ),
    ),
    (
        "BAD_DIN",
        "12 characters",
        lambda: raw(record_of(crossmatch(), din_check=None, din="A99992612345")),
    ),
    (
        "BAD_DIN",
        "a pseudonym",
        lambda: raw(record_of(crossmatch(), din_check=None, din=PII_PATIENT)),
    ),
    (
        "BAD_DIN",
        "lower case",
        lambda: raw(record_of(crossmatch(), din_check=None, din="a999926123456")),
    ),
    (
        "BAD_DIN",
        "letter O",
        lambda: raw(record_of(crossmatch(), din_check=None, din="O999926123456")),
    ),
    ("BAD_DIN", "check mismatch", lambda: raw(record_of(crossmatch(), din_check="*"))),
    ("BAD_DIN", "check empty", lambda: raw(record_of(crossmatch(), din_check=""))),
    (
        "BAD_PRODUCT_CODE",
        "on a donation",
        lambda: raw(record_of(donation(), product_code="E0791V00")),
    ),
    ("BAD_PRODUCT_CODE", "short", lambda: raw(record_of(crossmatch(), product_code="E0791"))),
    ("BAD_PRODUCT_CODE", "symbol", lambda: raw(record_of(crossmatch(), product_code="E0791V0-"))),
    (
        "BAD_PRODUCT_CODE",
        "pseudonym",
        lambda: raw(record_of(crossmatch(), product_code=PII_PATIENT)),
    ),
    ("BAD_EVENT_ID", "not a uuid", lambda: raw(record_of(crossmatch(), event_id="event-1"))),
    ("BAD_EVENT_ID", "a pseudonym", lambda: raw(record_of(donation(), event_id=PII_DONOR))),
    ("BAD_FACILITY", "source", lambda: with_source(facility="hospital-1")),
    ("BAD_FACILITY", "pseudonym", lambda: with_source(facility=PII_PATIENT)),
    (
        "BAD_FACILITY",
        "to_facility",
        lambda: raw(record_of(example_fact("UnitIssued"), {"to_facility": "O0000"})),
    ),
    (
        "BAD_TIMESTAMP",
        "before 1900",
        lambda: raw(record_of(crossmatch(), occurred_at=datetime(1899, 12, 31, tzinfo=UTC))),
    ),
    (
        "BAD_TIMESTAMP",
        "more than a day ahead",
        lambda: raw(record_of(crossmatch(), occurred_at=NOW + timedelta(hours=25))),
    ),
    ("BAD_TIMESTAMP", "smallest long", lambda: raw(record_of(crossmatch(), occurred_at=-(2**63)))),
    (
        "BAD_TIMESTAMP",
        "sample in 1800",
        lambda: raw(
            record_of(crossmatch(), {"sample_collected_at": datetime(1800, 1, 1, tzinfo=UTC)})
        ),
    ),
    (
        "BAD_TIMESTAMP",
        "expiry beyond year 9999",
        lambda: raw(record_of(example_fact("ComponentProduced"), {"expires_at": 2**62})),
    ),
]


@pytest.mark.parametrize(
    ("error_class", "make"), [(c, m) for c, _, m in CASES], ids=[f"{c}-{n}" for c, n, _ in CASES]
)
def test_a_non_fact_is_named_without_its_values(
    error_class: str, make: Callable[[], bytes | None]
) -> None:
    with pytest.raises(NotAFact) as caught:
        CODEC.decode(make())
    error = caught.value
    assert error.error_class == error_class
    assert error.message and str(error) == f"{error_class}: {error.message}"
    for secret in (PII_DONOR, PII_PATIENT):
        assert secret not in str(error)
    assert error.__cause__ is None  # fastavro's exception (which may quote values) is
    assert error.__context__ is None or error.__suppress_context__  # not chained


def test_every_decode_error_class_has_a_case() -> None:
    encode_only = {ErrorClass.UNKNOWN_EVENT_TYPE, ErrorClass.UNENCODABLE, ErrorClass.TOO_LARGE}
    # Checked by the ingest, not the codec: the key against the DIN, the id against the store.
    of_the_record = {ErrorClass.KEY_MISMATCH, ErrorClass.EVENT_ID_CONFLICT}
    # A schema registry's schema refused: tests/unit/test_registry_codec.py.
    of_a_registry = {ErrorClass.INCOMPATIBLE_SCHEMA}
    assert {c for c, _, _ in CASES} == set(ErrorClass) - encode_only - of_the_record - of_a_registry


def test_a_message_over_the_size_limit_is_too_large() -> None:
    codec = AvroCodec(MANIFEST, max_bytes=64, clock=clock)
    value = good()
    with pytest.raises(NotAFact) as caught:
        codec.decode(value)
    assert caught.value.error_class == "TOO_LARGE"
    assert AvroCodec(MANIFEST, max_bytes=len(value), clock=clock).decode(value)


def test_a_symbol_the_reader_does_not_know_is_a_bad_enum(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS / "v1", tmp_path / "v1")
    shutil.copytree(SCHEMAS / "v1", tmp_path / "v2")
    abo_file = tmp_path / "v2" / "bloodledger.ABO.avsc"
    abo = json.loads(abo_file.read_text())
    abo["symbols"].append("BOMBAY")
    abo_file.write_text(json.dumps(abo))
    schemas = {"1": "v1/bloodledger.Event.avsc", "2": "v2/bloodledger.Event.avsc"}
    (tmp_path / "manifest.json").write_text(json.dumps({"subject": "s", "schemas": schemas}))
    manifest = SchemaManifest(tmp_path)
    codec = AvroCodec(manifest, reader_schema_id=1, clock=clock)
    fact = crossmatch()
    bombay = raw(record_of(fact, {"patient_abo": "BOMBAY"}), manifest.parsed(2), 2)
    with pytest.raises(NotAFact) as caught:
        codec.decode(bombay)
    assert caught.value.error_class == "BAD_ENUM"
    assert codec.decode(raw(record_of(fact), manifest.parsed(2), 2)) == fact


# --- encoding refuses what decoding would --------------------------------------------


@pytest.mark.parametrize(
    ("error_class", "fact"),
    [
        ("UNKNOWN_EVENT_TYPE", example_fact("UnitTeleported")),
        ("MISSING_FIELD", replace(crossmatch(), payload={"patient_id": PII_PATIENT})),
        ("MISSING_FIELD", crossmatch(product_code=None)),
        ("BAD_DIN", crossmatch(din=PII_PATIENT)),
        ("BAD_DIN", crossmatch(din="a999926123456")),
        ("BAD_FACILITY", crossmatch(facility=PII_PATIENT)),
        ("BAD_EVENT_ID", crossmatch(event_id=PII_PATIENT)),
        ("BAD_PRODUCT_CODE", donation(product_code="E0791V00")),
        ("BAD_TIMESTAMP", crossmatch(occurred_at=datetime(2026, 3, 1, 8))),
        ("BAD_TIMESTAMP", crossmatch(sample_collected_at="2026-03-01")),
        ("BAD_TIMESTAMP", crossmatch(occurred_at=NOW + timedelta(days=2))),
        ("BAD_ENUM", crossmatch(patient_abo=PII_PATIENT)),
        ("UNENCODABLE", crossmatch(sample_id=7)),
        ("UNENCODABLE", donation(volume_ml=PII_DONOR)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_encode_refuses_a_fact_decode_would_reject(error_class: str, fact: ReportedFact) -> None:
    with pytest.raises(NotAFact) as caught:
        CODEC.encode(fact)
    assert caught.value.error_class == error_class
    for secret in (PII_DONOR, PII_PATIENT):
        assert secret not in str(caught.value)


def test_codec_refuses_schema_ids_not_in_the_manifest() -> None:
    with pytest.raises(ValueError, match="schema id 7"):
        AvroCodec(MANIFEST, writer_schema_id=7)
    with pytest.raises(ValueError, match="schema id 7"):
        AvroCodec(MANIFEST, reader_schema_id=7)


# --- robustness ------------------------------------------------------------------------

VALID = [CODEC.encode(example_fact(t)) for t in EventType] + [CODEC.encode(donation())]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode_or_reject(value: bytes) -> ReportedFact | NotAFact:
    """Decode; anything but a fact or NotAFact escaping fails the test."""
    try:
        return CODEC.decode(value)
    except NotAFact as error:
        assert error.error_class in set(ErrorClass)
        return error


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_are_a_fact_or_not_a_fact(value: bytes) -> None:
    decode_or_reject(value)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bodies_behind_a_valid_header_are_a_fact_or_not(body: bytes) -> None:
    decode_or_reject(frame(1, body))


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_single_byte_mutations_are_a_fact_or_not(value: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(value) - 1))
    byte = data.draw(st.integers(0, 255))
    decode_or_reject(value[:index] + bytes([byte]) + value[index + 1 :])


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_every_cut_of_a_valid_message_is_truncated(value: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(1, len(value) - 1))
    result = decode_or_reject(value[:cut])
    assert isinstance(result, NotAFact)
    assert result.error_class == "TRUNCATED"


# --- the hot path parses nothing ----------------------------------------------------------


def test_schemas_are_parsed_once_not_per_message(monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = SchemaManifest(SCHEMAS)
    calls: list[str] = []

    def counting(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return original(*args, **kwargs)

        return wrapper

    for target in (fastavro, fastavro.schema, avro):
        for name in ("parse_schema", "load_schema"):
            if hasattr(target, name):
                monkeypatch.setattr(target, name, counting(name, getattr(target, name)))
    codec = AvroCodec(manifest, clock=clock)
    assert "load_schema" not in calls  # the manifest's schemas are reused, not reloaded
    calls.clear()
    values = [codec.encode(example_fact(t)) for t in EventType]
    for index in range(1000):
        codec.decode(values[index % len(values)])
    assert calls == []


# --- the integrator's JSON form ---------------------------------------------------------


@pytest.mark.parametrize("event_type", list(EventType))
def test_json_form_round_trips(event_type: str) -> None:
    fact = example_fact(event_type, actor="staff-1")
    document = fact_to_json(fact)
    assert fact_from_json(json.loads(json.dumps(document))) == fact


def test_json_instants_accept_offsets_and_epoch_millis() -> None:
    document = fact_to_json(crossmatch())
    document["occurred_at"] = "2026-03-01T16:00:00+08:00"
    document["payload"]["sample_collected_at"] = 1_772_323_200_000
    fact = fact_from_json(document)
    assert fact.occurred_at == OCCURRED_AT
    assert fact.payload["sample_collected_at"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert fact_to_json(fact)["occurred_at"] == "2026-03-01T08:00:00Z"


def test_json_optional_fields_may_be_left_out() -> None:
    document = fact_to_json(example_fact("UnitIssued"))
    del document["product_code"], document["source"]["actor"], document["payload"]["shipment_id"]
    fact = fact_from_json(document)
    assert fact.product_code is None and fact.actor is None
    assert "shipment_id" not in fact.payload


def json_error(mutate: Callable[[dict[str, Any]], None]) -> str:
    document = fact_to_json(crossmatch())
    mutate(document)
    with pytest.raises(ValueError) as caught:
        fact_from_json(document)
    return str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("event_id"), "event_id"),
        (lambda d: d.update(event_type=PII_PATIENT), "event_type"),
        (lambda d: d.update(occurred_at="2026-03-01T08:00:00"), "occurred_at"),
        (lambda d: d.update(occurred_at=PII_PATIENT), "occurred_at"),
        (lambda d: d.update(occurred_at=True), "occurred_at"),
        (lambda d: d.update(source=PII_PATIENT), "source"),
        (lambda d: d["source"].update(facility=7), "source.facility"),
        (lambda d: d.update(din_check="*"), "din"),
        (lambda d: d.update(patient=PII_PATIENT), "patient"),
        (lambda d: d["payload"].pop("patient_id"), "payload.patient_id"),
        (lambda d: d["payload"].update(patientId=PII_PATIENT), "payload.patientId"),
        (
            lambda d: d["payload"].update(sample_collected_at=PII_PATIENT),
            "payload.sample_collected_at",
        ),
        (lambda d: d["payload"].update(sample_collected_at=10**20), "payload.sample_collected_at"),
    ],
)
def test_json_errors_name_the_field_not_the_value(
    mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    message = json_error(mutate)
    assert message.startswith(field)
    assert PII_PATIENT not in message


def test_json_lines_encode_to_din_keyed_values() -> None:
    facts = [example_fact(t) for t in EventType]
    lines = [json.dumps(fact_to_json(f)) for f in facts]
    lines.insert(3, "   ")
    encoded = list(encode_json_lines(lines, CODEC))
    assert [key for key, _ in encoded] == [f.din for f in facts]
    assert [CODEC.decode(value) for _, value in encoded] == facts


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"event_id": ', "not valid JSON"),
        (json.dumps([PII_PATIENT]), "JSON object"),
        (json.dumps(fact_to_json(crossmatch(facility="hospital"))), "BAD_FACILITY"),
        (json.dumps({**fact_to_json(crossmatch()), "event_id": PII_PATIENT}), "BAD_EVENT_ID"),
    ],
)
def test_a_bad_json_line_is_reported_by_number(line: str, reason: str) -> None:
    lines = [json.dumps(fact_to_json(donation())), line]
    with pytest.raises(ValueError, match=rf"^line 2: .*{reason}") as caught:
        list(encode_json_lines(lines, CODEC))
    assert PII_PATIENT not in str(caught.value)
