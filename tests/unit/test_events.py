"""The stored event classes: topics are forever, payload fields follow the contract.

Stores in use hold these topic strings; a renamed class keeps its topic, and
a changed topic would make every stored event of it unreadable. The payload
fields of each fact class are the contract's fields, in contract order (the
order is part of the stored JSON).
"""

from __future__ import annotations

import dataclasses

from ledger.domain import events
from ledger.domain.events import ENVELOPE_FIELDS, Fact, LedgerEvent, fact_class
from ledger.domain.vocabulary import EventType
from tests.unit.test_schemas import CONTRACT_FIELDS

#: Every stored topic, as written by every version of the ledger so far.
STORED_TOPICS = {
    "bloodledger:BloodUnit.Registered",
    "bloodledger:Donation.Registered",
    "bloodledger:Donation.UnitAdded",
    "bloodledger:LookbackCase.Opened",
    *(f"bloodledger:{event_type}" for event_type in EventType),
}


def _stored_classes() -> list[type[LedgerEvent]]:
    found = [v for v in vars(events).values() if isinstance(v, type) and issubclass(v, LedgerEvent)]
    return [cls for cls in found if cls not in (LedgerEvent, Fact)]


def test_the_stored_topics_are_exactly_those_already_in_stores() -> None:
    assert {cls.TOPIC for cls in _stored_classes()} == STORED_TOPICS


def test_each_contract_event_type_is_a_written_out_class() -> None:
    for event_type in EventType:
        cls = fact_class(event_type)
        assert cls.__name__ == event_type
        assert event_type == cls.EVENT_TYPE
        assert f"bloodledger:{event_type}" == cls.TOPIC


def test_fact_fields_are_the_envelope_then_the_contracts_payload_in_order() -> None:
    for event_type in EventType:
        cls = fact_class(event_type)
        assert tuple(CONTRACT_FIELDS[event_type]) == cls.PAYLOAD_FIELDS
        names = [f.name for f in dataclasses.fields(cls)]
        assert names == ["originator_id", "originator_version", "timestamp",
                         *ENVELOPE_FIELDS, *CONTRACT_FIELDS[event_type]]  # fmt: skip
