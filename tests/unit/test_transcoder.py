"""The ledger's ``orjson`` transcoder writes exactly the library's JSON format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

from ledger.adapters.persistence import store_for
from ledger.adapters.transcoder import OrjsonTranscoder
from ledger.bootstrap import open_ledger
from ledger.domain.lookback import CaseRequest, LookbackCase
from ledger.services.application import BloodLedger
from simulator import DemoConfig, generate


def transcoders() -> tuple[JSONTranscoder, OrjsonTranscoder]:
    library, ours = JSONTranscoder(), OrjsonTranscoder()
    Application().register_transcodings(library)
    Application().register_transcodings(ours)
    return library, ours


def stored_states(ledger: BloodLedger) -> dict[str, list[dict[str, Any]]]:
    """The state of every event the ledger stored, as the mapper hands it over, by topic."""
    states: dict[str, list[dict[str, Any]]] = {}
    for notification in ledger.event_log.page(1, 1_000_000):
        state = ledger.event_log.decode(notification).__dict__.copy()
        del state["originator_id"], state["originator_version"]
        states.setdefault(notification.topic, []).append(state)
    return states


def test_every_stored_event_type_encodes_to_the_library_bytes_and_back() -> None:
    ledger = open_ledger(store_for("memory://"))
    stream = generate(DemoConfig(days=4, hospitals=2, donations_per_day=8, seed=5))
    ledger.record(stream.facts)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    request = CaseRequest("LB-1", "D-1", "NAT", since, since + timedelta(days=90), None, "qa")
    ledger.save(LookbackCase.open(request))
    library, ours = transcoders()
    by_topic = stored_states(ledger)
    assert {
        "bloodledger:DonationCollected",
        "bloodledger:TestResultRecorded",
        "bloodledger:TransfusionStarted",
        "bloodledger:LookbackCase.Opened",
    } <= by_topic.keys()
    for state in (state for states in by_topic.values() for state in states):
        encoded = ours.encode(state)
        assert encoded == library.encode(state)
        assert ours.decode(encoded) == state == library.decode(encoded)


@pytest.mark.parametrize(
    "value",
    [
        {"at": datetime(2026, 3, 1, 8, 30, tzinfo=UTC), "nested": [{"d": Decimal("1.50")}]},
        {"id": {"_type_": "uuid_hex", "_data_": "0" * 32}, "text": "献血 ✓", "n": None},
        [1, 2.5, True, {"deep": {"deeper": datetime(2020, 1, 1, tzinfo=UTC)}}],
    ],
)
def test_nested_values_round_trip_like_the_library(value: Any) -> None:
    library, ours = transcoders()
    encoded = library.encode(value)
    assert ours.encode(value) == encoded
    assert ours.decode(encoded) == library.decode(encoded)


def test_a_type_without_a_transcoding_is_refused_naming_the_type() -> None:
    library, ours = transcoders()
    value = {"when": datetime(2026, 1, 1).date()}
    with pytest.raises(TranscodingNotRegisteredError):
        library.encode(value)
    with pytest.raises(TypeError, match=r"datetime\.date"):
        ours.encode(value)


def test_uuids_are_the_one_type_not_encoded_as_the_library_would() -> None:
    """Documented limit: no UUID may go into an event's state (none does today)."""
    library, ours = transcoders()
    value = {"id": uuid4()}
    assert library.decode(library.encode(value)) == value
    assert ours.decode(ours.encode(value)) == {"id": str(value["id"])}
