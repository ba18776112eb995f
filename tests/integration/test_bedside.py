"""The bedside check as a use case, on SQLite and PostgreSQL, against the real ledger.

One row per reason: the unit's story is recorded, the check answered from the
stored facts, and then the transfusion is reported started at the same instant.
The answer's decision and reasons are the row's; the check is a fact in the
unit's stream (its patient sealed in a protected ledger); and the ledger puts on
the unit the flag of each reason that has one, and ``STARTED_AFTER_STOP`` after
a STOP. The stories are those of ``tests/unit/test_bedside.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.bedside import FLAG_OF, SEVERITY
from ledger.domain.events import PreTransfusionCheckPerformed
from ledger.domain.identity import IdentityKey, generate_master_key, is_sealed
from ledger.domain.instants import iso
from ledger.domain.vocabulary import Decision, Flag, ReasonCode
from ledger.services.application import BloodLedger
from ledger.services.bedside import (
    BadCheckRequest,
    BedsideChecks,
    CheckRequest,
    UnknownUnit,
)
from tests.builders import HOSPITAL, RBC, at, din
from tests.unit.test_bedside import ALONE, CHECK_HOUR, PATIENT, Story

ACTOR = "nurse-17"
NOW = at(CHECK_HOUR)


def clock() -> datetime:
    return NOW


@pytest.fixture
def ledger(durable_store_url: str) -> Iterator[BloodLedger]:
    app = open_ledger(store_for(durable_store_url))
    yield app
    app.close()


@pytest.fixture
def protected(durable_store_url: str) -> Iterator[BloodLedger]:
    key = IdentityKey(generate_master_key())
    app = open_ledger(store_for(durable_store_url), identity_key=key)
    yield app
    app.close()


def request_of(story: Story, din_value: str, **changes: Any) -> CheckRequest:
    asked = story.request()
    fields = {
        "din": din_value,
        "product_code": RBC,
        "patient_id": PATIENT,
        "patient_abo": asked.patient_abo,
        "patient_rhd": asked.patient_rhd,
        "facility": asked.facility,
        "at": asked.at,
    }
    return CheckRequest(**{**fields, **changes})


def recorded(ledger: BloodLedger, story: Story, sequence: int = 1) -> str:
    """The story recorded in the ledger under a DIN of its own; the DIN."""
    din_value = din(sequence)
    ledger.record(story.timeline(din_value).facts)
    return din_value


def checks_of(ledger: BloodLedger, din_value: str) -> list[PreTransfusionCheckPerformed]:
    (unit,) = ledger.units_of(din_value, RBC)
    return [f for f in unit.unit.facts if isinstance(f, PreTransfusionCheckPerformed)]


def flags_after_start(ledger: BloodLedger, din_value: str, story: Story) -> set[str]:
    """The unit's flags once a transfusion is reported started at the check's instant."""
    timeline = story.timeline(din_value)
    start = timeline.started(hour=story.check_hour, patient=PATIENT)
    ledger.record([start])
    (unit,) = ledger.units_of(din_value, RBC)
    return set(unit.state().flags)


#: What the real ledger adds to a story's reasons: its own quarantine of a reactive
#: donation's units (the pure state machine is given no such fact).
LEDGER_ADDS: dict[ReasonCode, set[ReasonCode]] = {
    ReasonCode.REACTIVE_DONATION: {ReasonCode.QUARANTINED},
}


@pytest.mark.parametrize("code", list(ReasonCode))
def test_one_row_per_reason(ledger: BloodLedger, code: ReasonCode) -> None:
    story = replace(Story(), **ALONE[code])
    din_value = recorded(ledger, story)
    answer = BedsideChecks(ledger, clock).check(request_of(story, din_value), actor=ACTOR)
    expected = {code, *LEDGER_ADDS.get(code, set())}
    assert {r["code"] for r in answer["reasons"]} == expected
    assert answer["decision"] == max((SEVERITY[c] for c in expected), key=[*Decision].index)
    assert answer["checked_at"] == iso(at(story.check_hour))
    assert answer["unit"]["din"] == din_value
    assert answer["unit"]["product_code"] == RBC
    assert "state" in answer["unit"] and "events" not in answer["unit"]
    for reason in answer["reasons"]:
        assert PATIENT not in reason["message"]
    (check,) = checks_of(ledger, din_value)
    assert check.decision == answer["decision"]
    assert check.reasons == [r["code"] for r in answer["reasons"]]
    assert (check.patient_id, check.patient_abo, check.patient_rhd) == (
        PATIENT,
        story.patient_abo,
        story.patient_rhd,
    )
    assert (check.facility, check.actor, check.source_system) == (
        story.facility,
        ACTOR,
        "bloodledger-api",
    )
    assert check.occurred_at == at(story.check_hour)
    # The check agrees with the flags the ledger puts on the unit when the transfusion
    # is reported started at that instant.
    flags = flags_after_start(ledger, din_value, story)
    for reason in expected:
        if reason in FLAG_OF:
            assert FLAG_OF[reason] in flags, reason
    assert (Flag.STARTED_AFTER_STOP in flags) == (answer["decision"] == Decision.STOP)


def test_a_clean_unit_is_allowed_and_its_start_raises_nothing(ledger: BloodLedger) -> None:
    story = Story()
    din_value = recorded(ledger, story)
    answer = BedsideChecks(ledger, clock).check(request_of(story, din_value), actor=ACTOR)
    assert (answer["decision"], answer["reasons"]) == ("ALLOW", [])
    assert answer["unit"]["state"]["status"] == "DISPENSED"
    assert answer["unit"]["state"]["holder_patient_id"] == PATIENT
    assert flags_after_start(ledger, din_value, story) == set()


def test_every_reason_at_once(ledger: BloodLedger) -> None:
    """A unit with everything wrong: every reason, not just the first."""
    story = Story()
    for code in sorted(set(ALONE) - {ReasonCode.ABO_OUT_OF_GROUP}):
        story = replace(story, **ALONE[code])
    din_value = recorded(ledger, story)
    answer = BedsideChecks(ledger, clock).check(request_of(story, din_value), actor=ACTOR)
    assert {r["code"] for r in answer["reasons"]} == set(ReasonCode) - {ReasonCode.ABO_OUT_OF_GROUP}
    assert answer["decision"] == "STOP"


def test_the_clock_gives_the_instant_when_the_request_has_none(ledger: BloodLedger) -> None:
    story = Story()
    din_value = recorded(ledger, story)
    answer = BedsideChecks(ledger, clock).check(
        request_of(story, din_value, at=None), actor=ACTOR, source_system="ward-scanner"
    )
    assert answer["checked_at"] == "2026-09-02T06:15:00Z"
    (check,) = checks_of(ledger, din_value)
    assert (check.occurred_at, check.source_system) == (NOW, "ward-scanner")


def test_a_start_after_a_stop_is_flagged_and_after_an_allow_is_not(ledger: BloodLedger) -> None:
    stopped, allowed = Story(), Story()
    stop_din, allow_din = recorded(ledger, stopped, 1), recorded(ledger, allowed, 2)
    checks = BedsideChecks(ledger, clock)
    elsewhere = request_of(stopped, stop_din, facility="S3103")
    assert checks.check(elsewhere, actor=ACTOR)["decision"] == "STOP"
    assert checks.check(request_of(allowed, allow_din), actor=ACTOR)["decision"] == "ALLOW"
    for din_value, story in ((stop_din, stopped), (allow_din, allowed)):
        ledger.record([story.timeline(din_value).started(hour=CHECK_HOUR + 0.1, patient=PATIENT)])
    (stopped_unit,) = ledger.units_of(stop_din, RBC)
    (allowed_unit,) = ledger.units_of(allow_din, RBC)
    assert stopped_unit.state().flags == (Flag.STARTED_AFTER_STOP,)
    assert allowed_unit.state().flags == ()


def test_the_checks_patient_is_sealed_in_a_protected_ledger(protected: BloodLedger) -> None:
    story = replace(Story(), **ALONE[ReasonCode.NOT_RECEIVED_HERE])
    din_value = recorded(protected, story)
    answer = BedsideChecks(protected, clock).check(request_of(story, din_value), actor=ACTOR)
    assert [r["code"] for r in answer["reasons"]] == ["NOT_RECEIVED_HERE"]
    assert answer["unit"]["state"]["holder_patient_id"] == PATIENT  # revealed in the answer
    (check,) = checks_of(protected, din_value)
    assert is_sealed(check.patient_id)
    assert protected.identities.reveal(check.patient_id) == PATIENT
    stored = [n.state for n in protected.event_log.page(1, 10_000)]
    assert any(b"NOT_RECEIVED_HERE" in s for s in stored)  # the check is there ...
    assert not any(PATIENT.encode() in s for s in stored)  # ... its patient is not
    # Sealed, the patient is still the same patient: a start after the STOP is flagged.
    assert Flag.STARTED_AFTER_STOP in flags_after_start(protected, din_value, story)


def test_in_the_clear_the_patient_is_stored_as_given(ledger: BloodLedger) -> None:
    """The control of the test above: the search finds the id where it is stored."""
    story = Story()
    din_value = recorded(ledger, story)
    BedsideChecks(ledger, clock).check(request_of(story, din_value), actor=ACTOR)
    stored = [n.state for n in ledger.event_log.page(1, 10_000)]
    assert any(PATIENT.encode() in s and b"decision" in s for s in stored)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"din": "S31012600000"}, "din"),
        ({"din": "s310126000001"}, "din"),
        ({"product_code": ""}, "product_code"),
        ({"patient_id": ""}, "patient_id"),
        ({"patient_abo": "BOMBAY"}, "patient_abo"),
        ({"patient_rhd": "+"}, "patient_rhd"),
        ({"facility": "ward 7"}, "facility"),
        ({"at": datetime(2026, 9, 2, 6, 15)}, "at"),
    ],
)
def test_a_bad_request_names_its_field_not_its_value(
    ledger: BloodLedger, changes: dict[str, Any], field: str
) -> None:
    story = Story()
    din_value = recorded(ledger, story)
    with pytest.raises(BadCheckRequest) as caught:
        BedsideChecks(ledger, clock).check(request_of(story, din_value, **changes), actor=ACTOR)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert PATIENT not in str(caught.value)
    assert checks_of(ledger, din_value) == []


def test_a_unit_the_ledger_does_not_hold_is_unknown(ledger: BloodLedger) -> None:
    story = Story()
    din_value = recorded(ledger, story)
    checks = BedsideChecks(ledger, clock)
    for asked in (
        request_of(story, din(99)),
        request_of(story, din_value, product_code="E2702V00"),
    ):
        with pytest.raises(UnknownUnit, match=asked.din) as caught:
            checks.check(asked, actor=ACTOR)
        assert isinstance(caught.value, LookupError)
        assert PATIENT not in str(caught.value)


def test_a_check_takes_milliseconds(ledger: BloodLedger) -> None:
    story = Story()
    din_value = recorded(ledger, story)
    checks = BedsideChecks(ledger, clock)
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        checks.check(request_of(story, din_value), actor=ACTOR)
        timings.append(time.perf_counter() - started)
    assert len(checks_of(ledger, din_value)) == 20
    assert statistics.median(timings) < 0.25, timings


def _started_elsewhere(durable_store_url: str, story: Story, din_value: str) -> None:
    """Another process (its own ledger on the store) reports the transfusion started."""
    other = open_ledger(store_for(durable_store_url))
    try:
        other.record([story.timeline(din_value).started(hour=CHECK_HOUR + 0.1, patient=PATIENT)])
    finally:
        other.close()


def _counting_writes(ledger: BloodLedger, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each write of the ledger from now on, as "recorded" or "conflict"."""
    outcomes: list[str] = []
    record = ledger.record

    def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            result = record(*args, **kwargs)
        except IntegrityError:
            outcomes.append("conflict")
            raise
        outcomes.append("recorded")
        return result

    monkeypatch.setattr(ledger, "record", counted)
    return outcomes


def _answered_from_the_transfusion(answer: dict[str, Any]) -> None:
    assert [r["code"] for r in answer["reasons"]] == ["DOUBLE_USE"]
    assert answer["unit"]["state"]["status"] == "IN_TRANSFUSION"
    assert answer["unit"]["state"]["holder_patient_id"] == PATIENT
    assert answer["unit"]["state"]["facility"] == HOSPITAL


def test_a_check_reads_the_unit_from_the_store_not_from_what_its_ledger_kept(
    durable_store_url: str, ledger: BloodLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check's ledger keeps the unit it last wrote; another process appends to it:
    the next check decides on the store's unit, and records through it at once."""
    story = Story()
    din_value = recorded(ledger, story)
    checks = BedsideChecks(ledger, clock)
    assert checks.check(request_of(story, din_value), actor=ACTOR)["decision"] == "ALLOW"
    _started_elsewhere(durable_store_url, story, din_value)
    outcomes = _counting_writes(ledger, monkeypatch)
    later = request_of(story, din_value, at=at(CHECK_HOUR + 0.2))
    answer = checks.check(later, actor=ACTOR)
    assert outcomes == ["recorded"]
    _answered_from_the_transfusion(answer)
    assert len(checks_of(ledger, din_value)) == 2


def test_a_check_whose_unit_changed_between_its_read_and_its_write_is_made_again(
    durable_store_url: str, ledger: BloodLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process appends to the unit after the check has read it and before it
    writes: the write fails on the unit's version, nothing of it is stored, and the
    check is decided again on what the store then holds — never answered from facts
    that were no longer the unit's last."""
    story = Story()
    din_value = recorded(ledger, story)
    checks = BedsideChecks(ledger, clock)
    read = ledger.unit_to_record
    reads = 0

    def read_then_another_writes(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        found = read(*args, **kwargs)
        reads += 1
        if reads == 1:
            _started_elsewhere(durable_store_url, story, din_value)
        return found

    monkeypatch.setattr(ledger, "unit_to_record", read_then_another_writes)
    outcomes = _counting_writes(ledger, monkeypatch)
    later = request_of(story, din_value, at=at(CHECK_HOUR + 0.2))
    answer = checks.check(later, actor=ACTOR)
    assert (reads, outcomes) == (2, ["conflict", "recorded"])
    _answered_from_the_transfusion(answer)
    assert len(checks_of(ledger, din_value)) == 1
