"""Events submitted without Kafka: checked as the ingest checks them, every problem
reported, nothing produced from a request with one, the submitter's facility enforced."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer

from ledger.adapters.avro import AvroCodec, SchemaManifest, frame
from ledger.adapters.contract_json import ContractCodec, fact_to_json
from ledger.domain.facts import ErrorClass, ReportedFact
from ledger.domain.vocabulary import DonationType
from ledger.services.ports import Unavailable
from ledger.services.submission import (
    EventSubmission,
    ForeignFacility,
    LedgerRecorded,
    Problem,
    Rejected,
)
from tests.factories import DIN, FACILITY, HOSPITAL, OCCURRED_AT, example_fact

TOPIC = "bloodledger.events"
OTHER_DIN = "B123426000001"
PII_DONOR = "DONOR-SECRET-4711"
PII_PATIENT = "PATIENT-SECRET-0815"
NOW = OCCURRED_AT + timedelta(hours=1)
MANIFEST = SchemaManifest()
CODEC = AvroCodec(MANIFEST, clock=lambda: NOW)


def crossmatch(**overrides: Any) -> ReportedFact:
    return example_fact("CrossmatchPerformed", **{"patient_id": PII_PATIENT, **overrides})


def donation(**overrides: Any) -> ReportedFact:
    pseudonyms = {"donor_id": PII_DONOR, "intended_patient_id": PII_PATIENT}
    return example_fact(
        "DonationCollected", donation_type=DonationType.DIRECTED, **{**pseudonyms, **overrides}
    )


class MemoryPublisher:
    """The publisher port in memory: what was published, by topic; or unavailable."""

    def __init__(self) -> None:
        self.published: list[tuple[str, list[tuple[bytes, bytes]]]] = []
        self.unavailable = False
        self.closed = False

    def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        if self.unavailable:
            raise Unavailable("the broker did not acknowledge the events within 1 s")
        self.published.append((topic, list(records)))

    def records(self) -> list[tuple[bytes, bytes]]:
        return [record for _, batch in self.published for record in batch]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def submission(publisher: MemoryPublisher) -> EventSubmission:
    return EventSubmission(publisher, ContractCodec(CODEC), TOPIC)


def body(*documents: Any) -> bytes:
    return json.dumps(list(documents)).encode()


def unchanged(doc: dict[str, Any]) -> None:
    pass


def document(fact: ReportedFact, mutate: Callable[[dict[str, Any]], object] = unchanged) -> Any:
    """The contract JSON of a fact, changed by ``mutate``."""
    doc = fact_to_json(fact)
    mutate(doc)
    return doc


def rejected(call: Callable[[], object]) -> list[Problem]:
    with pytest.raises(Rejected) as caught:
        call()
    return caught.value.problems


# --- accepted ---------------------------------------------------------------------


def test_one_json_event_is_produced_keyed_by_din(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    fact = crossmatch()
    ids = submission.submit_json(json.dumps(fact_to_json(fact)).encode())
    assert ids == [fact.event_id]
    [(topic, [(key, value)])] = publisher.published
    assert topic == TOPIC and key == DIN.encode()
    assert CODEC.decode(value) == fact


def test_a_list_is_produced_in_order_in_one_publish(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    facts = [donation(), crossmatch(din=OTHER_DIN), example_fact("UnitIssued")]
    ids = submission.submit_json(body(*(fact_to_json(f) for f in facts)))
    assert ids == [f.event_id for f in facts]
    assert len(publisher.published) == 1
    records = publisher.records()
    assert [key for key, _ in records] == [f.din.encode() for f in facts]
    assert [CODEC.decode(value) for _, value in records] == facts


def test_an_avro_message_is_produced_untouched(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    fact = donation()
    value = CODEC.encode(fact)
    assert submission.submit_avro(value) == [fact.event_id]
    assert publisher.records() == [(DIN.encode(), value)]


def test_an_identical_repeat_passes_and_is_produced_once(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    fact = crossmatch()
    same = fact_to_json(fact)
    respelled = {**same, "occurred_at": "2026-03-01T16:00:00+08:00"}  # the same instant
    assert submission.submit_json(body(same, respelled)) == [fact.event_id] * 2
    assert len(publisher.records()) == 1


# --- every reason the ingest has, from JSON -------------------------------------------


def future(doc: dict[str, Any]) -> None:
    doc["occurred_at"] = (NOW + timedelta(hours=25)).isoformat()


JSON_CASES: list[tuple[str, str | None, Callable[[dict[str, Any]], object]]] = [
    ("MISSING_FIELD", "event_id", lambda d: d.pop("event_id")),
    ("MISSING_FIELD", "event_type", lambda d: d.pop("event_type")),
    ("MISSING_FIELD", "occurred_at", lambda d: d.pop("occurred_at")),
    ("MISSING_FIELD", "source", lambda d: d.pop("source")),
    ("MISSING_FIELD", "source.system", lambda d: d["source"].update(system="")),
    ("MISSING_FIELD", "din", lambda d: d.update(din="")),
    ("MISSING_FIELD", "product_code", lambda d: d.update(product_code=None)),
    ("MISSING_FIELD", "payload.patient_id", lambda d: d["payload"].pop("patient_id")),
    ("MISSING_FIELD", "payload.patient_id", lambda d: d["payload"].update(patient_id="")),
    ("UNENCODABLE", "patient", lambda d: d.update(patient=PII_PATIENT)),
    ("UNENCODABLE", "payload.patientId", lambda d: d["payload"].update(patientId=PII_PATIENT)),
    ("UNENCODABLE", "source", lambda d: d.update(source=PII_PATIENT)),
    ("UNENCODABLE", "source.actor", lambda d: d["source"].update(actor=5)),
    ("UNENCODABLE", "source.facility", lambda d: d["source"].update(facility=7)),
    ("UNENCODABLE", "payload", lambda d: d.update(payload=[PII_PATIENT])),
    ("UNENCODABLE", "payload.sample_id", lambda d: d["payload"].update(sample_id=7)),
    ("UNENCODABLE", "din_check", lambda d: d.update(din_check=7)),
    ("UNKNOWN_EVENT_TYPE", "event_type", lambda d: d.update(event_type="UnitTeleported")),
    ("UNKNOWN_EVENT_TYPE", "event_type", lambda d: d.update(event_type=PII_PATIENT)),
    ("BAD_DIN", "din", lambda d: d.update(din=PII_PATIENT)),
    ("BAD_DIN", "din", lambda d: d.update(din="a999926123456")),
    ("BAD_DIN", "din_check", lambda d: d.update(din_check="*")),
    ("BAD_PRODUCT_CODE", "product_code", lambda d: d.update(product_code=PII_PATIENT)),
    ("BAD_EVENT_ID", "event_id", lambda d: d.update(event_id=PII_PATIENT)),
    ("BAD_FACILITY", "source.facility", lambda d: d["source"].update(facility=PII_PATIENT)),
    ("BAD_TIMESTAMP", "occurred_at", lambda d: d.update(occurred_at="2026-03-01T08:00:00")),
    ("BAD_TIMESTAMP", "occurred_at", lambda d: d.update(occurred_at=PII_PATIENT)),
    ("BAD_TIMESTAMP", "occurred_at", lambda d: d.update(occurred_at="1899-12-31T00:00:00Z")),
    ("BAD_TIMESTAMP", "occurred_at", future),
    (
        "BAD_TIMESTAMP",
        "payload.sample_collected_at",
        lambda d: d["payload"].update(sample_collected_at=10**20),
    ),
    ("BAD_ENUM", "payload.patient_abo", lambda d: d["payload"].update(patient_abo=PII_PATIENT)),
    ("BAD_ENUM", "payload.method", lambda d: d["payload"].update(method="TELEPATHY")),
]


@pytest.mark.parametrize(
    ("reason", "field", "mutate"),
    JSON_CASES,
    ids=[f"{reason}-{index}" for index, (reason, _, _) in enumerate(JSON_CASES)],
)
def test_a_json_event_is_rejected_for_the_ingest_reason(
    submission: EventSubmission,
    publisher: MemoryPublisher,
    reason: str,
    field: str | None,
    mutate: Callable[[dict[str, Any]], object],
) -> None:
    problems = rejected(lambda: submission.submit_json(body(document(crossmatch(), mutate))))
    assert problems == [Problem(0, reason, field, problems[0].message)]
    assert problems[0].message
    assert publisher.published == []


def test_a_donation_event_with_a_product_code_is_rejected(submission: EventSubmission) -> None:
    doc = document(donation(), lambda d: d.update(product_code="E0791V00"))
    [problem] = rejected(lambda: submission.submit_json(body(doc)))
    assert (problem.reason, problem.field) == ("BAD_PRODUCT_CODE", "product_code")


def test_a_facility_in_the_payload_must_be_a_fin(submission: EventSubmission) -> None:
    doc = document(example_fact("UnitIssued"), lambda d: d["payload"].update(to_facility="O0000"))
    [problem] = rejected(lambda: submission.submit_json(body(doc)))
    assert (problem.reason, problem.field) == ("BAD_FACILITY", "payload.to_facility")


def test_an_event_that_is_not_an_object_is_unencodable(submission: EventSubmission) -> None:
    problems = rejected(lambda: submission.submit_json(body([PII_PATIENT], 7)))
    assert [(p.index, p.reason) for p in problems] == [(0, "UNENCODABLE"), (1, "UNENCODABLE")]


def test_an_event_larger_than_the_ingest_reads_is_too_large(publisher: MemoryPublisher) -> None:
    small = EventSubmission(publisher, ContractCodec(AvroCodec(MANIFEST, max_bytes=200)), TOPIC)
    doc = document(example_fact("UnitQuarantined", reason="x" * 300))
    [problem] = rejected(lambda: small.submit_json(body(doc)))
    assert (problem.index, problem.reason, problem.field) == (0, "TOO_LARGE", None)


def test_the_same_event_id_with_other_content_is_a_conflict(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    first = crossmatch()
    other = crossmatch(event_id=first.event_id, patient_id="patient-0002")
    docs = [fact_to_json(first), fact_to_json(donation()), fact_to_json(other)]
    [problem] = rejected(lambda: submission.submit_json(body(*docs)))
    assert (problem.index, problem.reason, problem.field) == (2, "EVENT_ID_CONFLICT", "event_id")
    assert "event 0" in problem.message
    assert publisher.published == []


# --- the request as a whole ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"event_id": ', "UNDECODABLE"),
        (b"", "EMPTY"),
        (b" \r\n", "EMPTY"),
        (b'["\xc3\x28"]', "UNDECODABLE"),
        (b"\xff\xfe{}", "UNDECODABLE"),
        (b'{"units": NaN}', "UNDECODABLE"),
        (b'[{"volume_ml": Infinity}]', "UNDECODABLE"),
        (b"[" * 100_000 + b"]" * 100_000, "UNDECODABLE"),
        (json.dumps({"patient_id": PII_PATIENT}).encode()[:-3], "UNDECODABLE"),
        (b"[]", "EMPTY"),
    ],
    ids=[
        "cut",
        "nothing",
        "blank",
        "not utf-8",
        "utf-16",
        "nan",
        "infinity",
        "deep",
        "pii",
        "empty list",
    ],
)
def test_a_body_that_is_not_a_json_request_is_rejected_whole(
    submission: EventSubmission, publisher: MemoryPublisher, raw: bytes, reason: str
) -> None:
    [problem] = rejected(lambda: submission.submit_json(raw))
    assert (problem.index, problem.reason, problem.field) == (None, reason, None)
    assert PII_PATIENT not in problem.message
    assert publisher.published == []


def test_too_many_events_or_bytes_are_too_large(publisher: MemoryPublisher) -> None:
    limited = EventSubmission(
        publisher, ContractCodec(CODEC), TOPIC, max_events=2, max_json_bytes=2000
    )
    docs = [fact_to_json(crossmatch()) for _ in range(3)]
    [problem] = rejected(lambda: limited.submit_json(body(*docs)))
    assert (problem.index, problem.reason) == (None, "TOO_LARGE")
    assert "more than 2 events" in problem.message
    [problem] = rejected(lambda: limited.submit_json(b" " * 2001))
    assert (problem.index, problem.reason) == (None, "TOO_LARGE")
    assert limited.submit_json(body(*docs[:2])) == [d["event_id"] for d in docs[:2]]


# --- every problem reported, nothing produced ---------------------------------------------


def test_every_bad_event_is_reported_with_its_index_and_nothing_is_produced(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    docs = [
        document(crossmatch(), lambda d: d.update(din=PII_PATIENT)),
        fact_to_json(donation()),
        document(crossmatch(), lambda d: d["payload"].pop("sample_id")),
        fact_to_json(example_fact("UnitReleased")),
    ]
    problems = rejected(lambda: submission.submit_json(body(*docs)))
    assert [(p.index, p.reason, p.field) for p in problems] == [
        (0, "BAD_DIN", "din"),
        (2, "MISSING_FIELD", "payload.sample_id"),
    ]
    assert publisher.published == []


def test_the_rejection_says_what_and_how_many(submission: EventSubmission) -> None:
    docs = [document(crossmatch(), lambda d: d.pop("event_id")) for _ in range(3)]
    with pytest.raises(Rejected) as caught:
        submission.submit_json(body(*docs))
    assert str(caught.value).startswith("MISSING_FIELD: event_id")
    assert str(caught.value).endswith("(and 2 more)")
    assert isinstance(caught.value, ValueError)


# --- every reason the ingest has, from Avro ---------------------------------------------


def rewritten(fact: ReportedFact, change: Callable[[dict[str, Any]], object]) -> bytes:
    """The fact's message with its Avro record changed, written past the codec's checks."""
    schema = MANIFEST.parsed(1)
    record: Any = schemaless_reader(
        BytesIO(CODEC.encode(fact)[5:]), schema, None, return_record_name=True
    )
    change(record)
    body = BytesIO()
    schemaless_writer(body, schema, record)
    return frame(1, body.getvalue())


def good() -> bytes:
    return CODEC.encode(crossmatch())


AVRO_CASES: list[tuple[str, str, Callable[[], bytes]]] = [
    ("EMPTY", "no bytes", lambda: b""),
    ("BAD_MAGIC", "magic 1", lambda: b"\x01" + good()[1:]),
    ("BAD_MAGIC", "json", lambda: json.dumps(fact_to_json(crossmatch())).encode()),
    ("TRUNCATED", "header cut", lambda: good()[:3]),
    ("TRUNCATED", "last byte cut", lambda: good()[:-1]),
    ("UNKNOWN_SCHEMA_ID", "id 999", lambda: frame(999, good()[5:])),
    ("UNDECODABLE", "trailing byte", lambda: good() + b"\x00"),
    ("MISSING_FIELD", "event_id", lambda: rewritten(crossmatch(), lambda r: r.update(event_id=""))),
    (
        "MISSING_FIELD",
        "patient_id",
        lambda: rewritten(crossmatch(), lambda r: r["payload"][1].update(patient_id="")),
    ),
    (
        "BAD_DIN",
        "din pseudonym",
        lambda: rewritten(crossmatch(), lambda r: r.update(din=PII_PATIENT, din_check=None)),
    ),
    (
        "BAD_DIN",
        "check mismatch",
        lambda: rewritten(crossmatch(), lambda r: r.update(din_check="*")),
    ),
    (
        "BAD_EVENT_ID",
        "event_id pseudonym",
        lambda: rewritten(donation(), lambda r: r.update(event_id=PII_DONOR)),
    ),
    (
        "BAD_FACILITY",
        "source.facility",
        lambda: rewritten(crossmatch(), lambda r: r["source"].update(facility=PII_PATIENT)),
    ),
    (
        "BAD_PRODUCT_CODE",
        "short",
        lambda: rewritten(crossmatch(), lambda r: r.update(product_code=PII_PATIENT)),
    ),
    (
        "BAD_TIMESTAMP",
        "before 1900",
        lambda: rewritten(
            crossmatch(), lambda r: r.update(occurred_at=datetime(1899, 12, 31, tzinfo=UTC))
        ),
    ),
    (
        "BAD_TIMESTAMP",
        "sample in 1800",
        lambda: rewritten(
            crossmatch(),
            lambda r: r["payload"][1].update(sample_collected_at=datetime(1800, 1, 1, tzinfo=UTC)),
        ),
    ),
    (
        "BAD_FACILITY",
        "to_facility",
        lambda: rewritten(
            example_fact("UnitIssued"), lambda r: r["payload"][1].update(to_facility="O0000")
        ),
    ),
]


@pytest.mark.parametrize(
    ("reason", "make"),
    [(reason, make) for reason, _, make in AVRO_CASES],
    ids=[f"{reason}-{name}" for reason, name, _ in AVRO_CASES],
)
def test_an_avro_message_is_rejected_as_the_ingest_dead_letters_it(
    submission: EventSubmission,
    publisher: MemoryPublisher,
    reason: str,
    make: Callable[[], bytes],
) -> None:
    value = make()
    [problem] = rejected(lambda: submission.submit_avro(value))
    assert (problem.index, problem.reason) == (0, reason)
    for secret in (PII_DONOR, PII_PATIENT):
        assert secret not in problem.message
        assert secret not in (problem.field or "")
    assert publisher.published == []


def test_an_avro_message_over_the_size_limit_is_too_large(publisher: MemoryPublisher) -> None:
    value = CODEC.encode(crossmatch())
    small = EventSubmission(publisher, ContractCodec(AvroCodec(MANIFEST, max_bytes=64)), TOPIC)
    [problem] = rejected(lambda: small.submit_avro(value))
    assert (problem.reason, problem.field) == ("TOO_LARGE", None)
    [problem] = rejected(lambda: small.submit_avro(frame(999, value[5:])))
    assert problem.reason == "TOO_LARGE"


def test_avro_fields_are_named(submission: EventSubmission) -> None:
    by_name = {name: make for _, name, make in AVRO_CASES}
    expected = {
        "event_id": "event_id",
        "source.facility": "source.facility",
        "patient_id": "payload.patient_id",
        "check mismatch": "din_check",
        "din pseudonym": "din",
        "event_id pseudonym": "event_id",
        "short": "product_code",
        "before 1900": "occurred_at",
        "sample in 1800": "payload.sample_collected_at",
        "to_facility": "payload.to_facility",
        "id 999": None,
        "trailing byte": None,
    }
    for name, field in expected.items():
        [problem] = rejected(lambda make=by_name[name]: submission.submit_avro(make()))
        assert problem.field == field, name


def test_every_reason_code_is_reachable_from_a_request() -> None:
    reached = {reason for reason, _, _ in JSON_CASES} | {reason for reason, _, _ in AVRO_CASES}
    reached |= {"EMPTY", "TOO_LARGE", "UNDECODABLE", "BAD_PRODUCT_CODE", "EVENT_ID_CONFLICT"}
    # The key is the envelope's DIN, always: a request's records never mismatch it. The
    # HTTP submission reads with the manifest's schemas alone: no registry's to refuse.
    assert reached == set(ErrorClass) - {ErrorClass.KEY_MISMATCH, ErrorClass.INCOMPATIBLE_SCHEMA}


# --- the submitter's facility ---------------------------------------------------------


def test_a_facility_bound_submitter_may_only_report_for_its_facility(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    own = [crossmatch(), donation()]
    assert submission.submit_json(body(*map(fact_to_json, own)), facility=FACILITY)
    foreign = crossmatch(facility=HOSPITAL)
    docs = [fact_to_json(own[0]), fact_to_json(foreign), fact_to_json(foreign)]
    with pytest.raises(ForeignFacility) as caught:
        submission.submit_json(body(*docs), facility=FACILITY)
    assert caught.value.indexes == [1, 2]
    assert isinstance(caught.value, PermissionError)
    with pytest.raises(ForeignFacility):
        submission.submit_avro(CODEC.encode(foreign), facility=FACILITY)
    assert submission.submit_avro(CODEC.encode(foreign), facility=HOSPITAL)
    assert len(publisher.published) == 2  # the two allowed requests only


def test_a_hospital_acknowledges_a_notice_as_the_readme_shows(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    """The README's ``POST /api/v1/events`` body: a unit-level NoticeAcknowledged from
    the facility the notice went to, produced like any fact (id 4, the latest)."""
    document = {
        "event_id": "7d0c1c6e-4c1e-4d1e-9d35-3f1f0a8b2c11",
        "event_type": "NoticeAcknowledged",
        "occurred_at": "2026-03-01T10:30:00+08:00",
        "source": {"system": "hospital-lis", "facility": HOSPITAL, "actor": "bb-tech-7"},
        "din": DIN,
        "product_code": "E0791V00",
        "payload": {
            "notice_id": "b3f4c2d0-5a8e-5d3c-9f21-6c0e7a1b2d34",
            "action_taken": "QUARANTINED",
        },
    }
    assert submission.submit_json(body(document), facility=HOSPITAL) == [document["event_id"]]
    [(key, value)] = publisher.records()
    assert (key, value[:5]) == (DIN.encode(), b"\x00\x00\x00\x00\x04")
    fact = CODEC.decode(value)
    assert (fact.event_type, fact.facility, fact.product_code) == (
        "NoticeAcknowledged", HOSPITAL, "E0791V00",
    )  # fmt: skip
    assert fact.payload == document["payload"]


def test_bedside_checks_are_the_ledgers_own_and_cannot_be_submitted(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    forged = example_fact("PreTransfusionCheckPerformed")
    docs = [fact_to_json(crossmatch()), fact_to_json(forged)]
    with pytest.raises(LedgerRecorded) as caught:
        submission.submit_json(body(*docs))
    assert caught.value.indexes == [1]
    with pytest.raises(LedgerRecorded):
        submission.submit_avro(CODEC.encode(forged))
    assert not publisher.published


def test_an_invalid_request_is_rejected_before_its_facility_is_judged(
    submission: EventSubmission,
) -> None:
    bad = document(crossmatch(facility=HOSPITAL), lambda d: d.pop("event_id"))
    [problem] = rejected(lambda: submission.submit_json(body(bad), facility=FACILITY))
    assert problem.reason == "MISSING_FIELD"


# --- no identifiers in problems ---------------------------------------------------------


def test_no_donor_or_patient_identifier_is_in_any_problem(submission: EventSubmission) -> None:
    fact = donation()  # carries both pseudonyms
    mutations: list[Callable[[dict[str, Any]], object]] = [
        lambda d: d.update(din=PII_DONOR),
        lambda d: d.update(event_id=PII_DONOR),
        lambda d: d.update(product_code=PII_PATIENT),
        lambda d: d.update(occurred_at=PII_PATIENT),
        lambda d: d.update(event_type=PII_DONOR),
        lambda d: d.update(din_check=PII_DONOR),
        lambda d: d["source"].update(facility=PII_DONOR),
        lambda d: d["source"].update(system=[PII_DONOR]),
        lambda d: d["payload"].update(volume_ml=PII_DONOR),
        lambda d: d["payload"].update(donation_type=PII_PATIENT),
        lambda d: d["payload"].update(intended_patient_id=7),
        lambda d: d["payload"].pop("procedure"),
    ]
    docs = [document(fact, mutate) for mutate in mutations]
    with pytest.raises(Rejected) as caught:
        submission.submit_json(body(*docs))
    problems = caught.value.problems
    assert [p.index for p in problems] == list(range(len(mutations)))
    for problem in problems:
        for secret in (PII_DONOR, PII_PATIENT):
            assert secret not in problem.message
            assert secret not in (problem.field or "")
            assert secret not in str(caught.value)


# --- the broker ---------------------------------------------------------------------


def test_an_unavailable_broker_is_told_to_the_caller(
    submission: EventSubmission, publisher: MemoryPublisher
) -> None:
    publisher.unavailable = True
    with pytest.raises(Unavailable):
        submission.submit_json(body(fact_to_json(crossmatch())))
    with pytest.raises(Unavailable):
        submission.submit_avro(CODEC.encode(crossmatch()))
    submission.close()
    assert publisher.closed
