"""The recall notice on the wire: its schema (the contract's names), its own schema id
beside the events', and the codec both ways."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.adapters.avro import AvroCodec, SchemaManifest, frame
from ledger.adapters.notice_avro import NotANotice, NoticeCodec, NoticeSchemas
from ledger.domain.facts import NotAFact
from ledger.domain.notice import RecallNotice
from ledger.domain.vocabulary import NoticeAction
from tests.factories import example_fact

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
#: The contract's field names, in order (shared/contract/events-v1.md, "Outbound").
CONTRACT = [
    "notice_id", "case_id", "din", "product_code", "facility", "action", "reason",
    "patient_id", "issued_at",
]  # fmt: skip


def notice(action: NoticeAction = NoticeAction.NOTIFY_RECIPIENT) -> RecallNotice:
    return RecallNotice(
        notice_id="3b60442e-71f9-5847-a919-a75fc8694234",
        case_id="LB-AUTO-S310126000001",
        din="S310126000001",
        product_code="E0791V00",
        facility="S3102",
        action=action,
        reason="REACTIVE_DONATION: HIV_NAT",
        patient_id="P000001" if action == NoticeAction.NOTIFY_RECIPIENT else None,
        issued_at=datetime(2026, 9, 2, 14, 0, tzinfo=UTC),
    )


def test_the_schema_has_the_contracts_fields_in_order() -> None:
    schema = json.loads((SCHEMAS / "notices/v1/bloodledger.RecallNotice.avsc").read_text())
    assert [f["name"] for f in schema["fields"]] == CONTRACT
    types = {f["name"]: f["type"] for f in schema["fields"]}
    assert types["patient_id"] == ["null", "string"]
    assert types["issued_at"] == {"type": "long", "logicalType": "timestamp-millis"}
    assert types["action"] == "bloodledger.NoticeAction"
    action = json.loads((SCHEMAS / "notices/v1/bloodledger.NoticeAction.avsc").read_text())
    assert action["symbols"] == [a.value for a in NoticeAction]
    assert all(f.get("doc") for f in schema["fields"])


def test_the_notice_has_schema_id_3_a_subject_of_its_own_and_no_event_id() -> None:
    manifest = json.loads((SCHEMAS / "manifest.json").read_text())
    assert manifest["notices"] == {
        "subject": "bloodledger.notices-value",
        "schemas": {"3": "notices/v1/bloodledger.RecallNotice.avsc"},
    }
    schemas = NoticeSchemas(SCHEMAS)
    assert schemas.schema_ids == (3,)
    events = SchemaManifest(SCHEMAS)
    assert 3 not in events and not set(schemas.schema_ids) & set(events.schema_ids)


def test_a_notice_id_that_is_also_an_events_is_refused(tmp_path: Path) -> None:
    manifest = json.loads((SCHEMAS / "manifest.json").read_text())
    manifest["notices"]["schemas"] = {"1": "notices/v1/bloodledger.RecallNotice.avsc"}
    for item in SCHEMAS.iterdir():
        if item.name != "manifest.json":
            (tmp_path / item.name).symlink_to(item)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="both an event's and a notice's"):
        NoticeSchemas(tmp_path)


@pytest.mark.parametrize("action", list(NoticeAction))
def test_a_notice_is_written_with_id_3_and_read_back(action: NoticeAction) -> None:
    codec = NoticeCodec()
    value = codec.encode(notice(action))
    assert value[:5] == b"\x00\x00\x00\x00\x03"
    assert codec.decode(value) == notice(action)


def test_an_event_framed_with_the_notices_id_is_not_an_event() -> None:
    """Dead-lettered as an unknown schema id: id 3 is not an event writer schema."""
    events = AvroCodec()
    body = events.encode(example_fact("UnitReleased"))[5:]
    for value in (frame(3, body), NoticeCodec().encode(notice())):
        with pytest.raises(NotAFact) as refused:
            events.decode(value)
        assert refused.value.error_class == "UNKNOWN_SCHEMA_ID"


def test_an_event_is_not_a_notice() -> None:
    value = AvroCodec().encode(example_fact("UnitReleased"))
    with pytest.raises(NotANotice, match="is not a recall notice's"):
        NoticeCodec().decode(value)
    with pytest.raises(NotANotice):
        NoticeCodec().decode(b"")


def test_a_notice_that_cannot_be_written_is_named_not_quoted() -> None:
    broken = RecallNotice(**{**vars(notice()), "facility": None})  # type: ignore[arg-type]
    with pytest.raises(NotANotice) as refused:
        NoticeCodec().encode(broken)
    assert "P000001" not in str(refused.value)
    assert notice().notice_id in str(refused.value)
