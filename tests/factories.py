"""One valid example fact of every contract event type, for tests to start from.

``example_fact("UnitIssued")`` is a well-formed fact the codec accepts: DIN
``A999926123456``, facility ``A9999``, a fresh uuid4 ``event_id``, and a fixed
``occurred_at`` in 2026. Keyword overrides replace envelope fields (any field of
:class:`ReportedFact`, including a whole ``payload``) or single payload fields::

    example_fact("CrossmatchPerformed", patient_id="P-2", facility="B1234")

All instants have whole milliseconds, so a fact survives the Avro round trip
unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.domain.facts import ReportedFact
from ledger.domain.vocabulary import (
    ABO,
    DONATION_LEVEL,
    AckAction,
    Component,
    CrossmatchMethod,
    CrossmatchResult,
    Decision,
    DiscardReason,
    DonationType,
    Imputability,
    Procedure,
    ReactionCategory,
    ReasonCode,
    RhD,
    Severity,
    Test,
    TestResult,
    TransfusionOutcome,
)

DIN = "A999926123456"
FACILITY = "A9999"
HOSPITAL = "B1234"
PRODUCT_CODE = "E0791V00"
OCCURRED_AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
DONOR_ID = "donor-0001"
PATIENT_ID = "patient-0001"

_ENVELOPE_FIELDS = frozenset(f.name for f in fields(ReportedFact))


def example_payload(event_type: str) -> dict[str, Any]:
    """A fresh, valid payload of ``event_type`` with every field present."""
    return _PAYLOADS[event_type]()


def example_fact(event_type: str, **overrides: Any) -> ReportedFact:
    """A valid fact of ``event_type``; ``overrides`` replace envelope or payload fields."""
    envelope = {k: v for k, v in overrides.items() if k in _ENVELOPE_FIELDS}
    payload_overrides = {k: v for k, v in overrides.items() if k not in _ENVELOPE_FIELDS}
    fact = ReportedFact(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        occurred_at=OCCURRED_AT,
        source_system="test-system",
        facility=FACILITY,
        actor=None,
        din=DIN,
        product_code=None if event_type in DONATION_LEVEL else PRODUCT_CODE,
        payload=example_payload(event_type) if event_type in _PAYLOADS else {},
    )
    fact = replace(fact, **envelope)
    if payload_overrides:
        unknown = payload_overrides.keys() - fact.payload.keys()
        if unknown:
            msg = f"not payload fields of {event_type}: {sorted(unknown)}"
            raise TypeError(msg)
        fact = replace(fact, payload={**fact.payload, **payload_overrides})
    return fact


_PAYLOADS: dict[str, Callable[[], dict[str, Any]]] = {
    "DonationCollected": lambda: {
        "donor_id": DONOR_ID,
        "donation_type": DonationType.VOLUNTARY,
        "intended_patient_id": None,
        "procedure": Procedure.WHOLE_BLOOD,
        "volume_ml": 400,
    },
    "TestResultRecorded": lambda: {
        "test": Test.HIV_NAT,
        "result": TestResult.NEGATIVE,
        "abo": None,
        "rhd": None,
    },
    "ComponentProduced": lambda: {
        "component": Component.RED_CELLS,
        "volume_ml": 280,
        "units": 2.0,
        "abo": ABO.A,
        "rhd": RhD.POS,
        "expires_at": OCCURRED_AT + timedelta(days=35),
    },
    "UnitReleased": dict,
    "UnitQuarantined": lambda: {"reason": "look-back investigation", "case_id": None},
    "UnitDiscarded": lambda: {"reason": DiscardReason.EXPIRED},
    "UnitIssued": lambda: {"to_facility": HOSPITAL, "shipment_id": "SH-0001"},
    "UnitReceived": lambda: {"temperature_ok": True},
    "CrossmatchPerformed": lambda: {
        "patient_id": PATIENT_ID,
        "patient_abo": ABO.A,
        "patient_rhd": RhD.POS,
        "sample_id": "sample-0001",
        "sample_collected_at": OCCURRED_AT - timedelta(hours=12),
        "method": CrossmatchMethod.AHG,
        "result": CrossmatchResult.COMPATIBLE,
    },
    "UnitDispensed": lambda: {"patient_id": PATIENT_ID},
    "UnitReturned": lambda: {"minutes_out_of_storage": 20},
    "TransfusionStarted": lambda: {"patient_id": PATIENT_ID, "bedside_check_passed": True},
    "TransfusionCompleted": lambda: {
        "patient_id": PATIENT_ID,
        "volume_ml": 280,
        "outcome": TransfusionOutcome.COMPLETED,
    },
    "AdverseReactionReported": lambda: {
        "patient_id": PATIENT_ID,
        "category": ReactionCategory.FNHTR,
        "severity": Severity.NON_SEVERE,
        "imputability": Imputability.PROBABLE,
        "onset_at": OCCURRED_AT + timedelta(minutes=90),
    },
    "TransfusionEvaluated": lambda: {
        "patient_id": PATIENT_ID,
        "effective": True,
        "note": None,
    },
    "PreTransfusionCheckPerformed": lambda: {
        "patient_id": PATIENT_ID,
        "patient_abo": ABO.A,
        "patient_rhd": RhD.POS,
        "decision": Decision.STOP,
        "reasons": [ReasonCode.NOT_RECEIVED_HERE, ReasonCode.RHD_INCOMPATIBLE],
    },
    "NoticeAcknowledged": lambda: {
        "notice_id": "notice-0001",
        "action_taken": AckAction.QUARANTINED,
    },
}
