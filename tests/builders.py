"""A timeline builder: the facts of one donation's life, hour by hour.

Each method appends one contract fact at ``hour`` hours after a fixed start,
with sensible defaults, so a rule test reads like the story it tells.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.domain.din import check_character
from ledger.domain.facts import ReportedFact

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
CENTRE = "S3101"
HOSPITAL = "S3102"
RBC = "E0791V00"
PLASMA = "E2702V00"


def din(sequence: int = 1) -> str:
    value = f"{CENTRE}26{sequence:06d}"
    assert check_character(value)
    return value


def at(hour: float) -> datetime:
    return START + timedelta(hours=hour)


@dataclass
class Timeline:
    din: str = field(default_factory=din)
    facts: list[ReportedFact] = field(default_factory=list)

    def fact(
        self, event_type: str, hour: float, product_code: str | None, facility: str, **payload: Any
    ) -> ReportedFact:
        fact = ReportedFact(
            event_id=str(uuid.uuid4()),
            event_type=event_type,
            occurred_at=at(hour),
            source_system="test",
            facility=facility,
            actor="staff-1",
            din=self.din,
            product_code=product_code,
            payload=payload,
        )
        self.facts.append(fact)
        return fact

    # -- donation level ---------------------------------------------------
    def collected(
        self,
        hour: float = 0,
        donation_type: str = "VOLUNTARY",
        intended: str | None = None,
        donor: str = "D000001",
    ) -> ReportedFact:
        return self.fact(
            "DonationCollected",
            hour,
            None,
            CENTRE,
            donor_id=donor,
            donation_type=donation_type,
            intended_patient_id=intended,
            procedure="WHOLE_BLOOD",
            volume_ml=400,
        )

    def tested(
        self, hour: float = 4, test: str = "HIV_NAT", result: str = "NEGATIVE"
    ) -> ReportedFact:
        return self.fact(
            "TestResultRecorded", hour, None, CENTRE, test=test, result=result, abo=None, rhd=None
        )

    def grouped(self, hour: float = 4, abo: str = "A", rhd: str = "POS") -> ReportedFact:
        return self.fact(
            "TestResultRecorded",
            hour,
            None,
            CENTRE,
            test="ABO_RHD",
            result="NEGATIVE",
            abo=abo,
            rhd=rhd,
        )

    # -- unit level -------------------------------------------------------
    def produced(
        self,
        hour: float = 2,
        product_code: str = RBC,
        component: str = "RED_CELLS",
        abo: str = "A",
        rhd: str = "POS",
        shelf_days: float = 35,
    ) -> ReportedFact:
        return self.fact(
            "ComponentProduced",
            hour,
            product_code,
            CENTRE,
            component=component,
            volume_ml=280,
            units=2.0,
            abo=abo,
            rhd=rhd,
            expires_at=at(hour + 24 * shelf_days),
        )

    def released(self, hour: float = 6, product_code: str = RBC) -> ReportedFact:
        return self.fact("UnitReleased", hour, product_code, CENTRE)

    def quarantined(
        self, hour: float, reason: str = "investigation", product_code: str = RBC
    ) -> ReportedFact:
        return self.fact("UnitQuarantined", hour, product_code, CENTRE, reason=reason, case_id=None)

    def discarded(
        self, hour: float, reason: str = "EXPIRED", product_code: str = RBC
    ) -> ReportedFact:
        return self.fact("UnitDiscarded", hour, product_code, CENTRE, reason=reason)

    def issued(self, hour: float = 8, to: str = HOSPITAL, product_code: str = RBC) -> ReportedFact:
        return self.fact(
            "UnitIssued", hour, product_code, CENTRE, to_facility=to, shipment_id="SH1"
        )

    def received(
        self,
        hour: float = 10,
        at_facility: str = HOSPITAL,
        ok: bool = True,
        product_code: str = RBC,
    ) -> ReportedFact:
        return self.fact("UnitReceived", hour, product_code, at_facility, temperature_ok=ok)

    def crossmatched(
        self,
        hour: float = 20,
        patient: str = "P000001",
        abo: str = "A",
        rhd: str = "POS",
        sample_hour: float | None = None,
        result: str = "COMPATIBLE",
        product_code: str = RBC,
    ) -> ReportedFact:
        return self.fact(
            "CrossmatchPerformed",
            hour,
            product_code,
            HOSPITAL,
            patient_id=patient,
            patient_abo=abo,
            patient_rhd=rhd,
            sample_id="S1",
            sample_collected_at=at(hour - 1 if sample_hour is None else sample_hour),
            method="AHG",
            result=result,
        )

    def dispensed(
        self, hour: float = 22, patient: str = "P000001", product_code: str = RBC
    ) -> ReportedFact:
        return self.fact("UnitDispensed", hour, product_code, HOSPITAL, patient_id=patient)

    def returned(self, hour: float, minutes: int, product_code: str = RBC) -> ReportedFact:
        return self.fact(
            "UnitReturned", hour, product_code, HOSPITAL, minutes_out_of_storage=minutes
        )

    def started(
        self,
        hour: float = 23,
        patient: str = "P000001",
        bedside: bool = True,
        product_code: str = RBC,
    ) -> ReportedFact:
        return self.fact(
            "TransfusionStarted",
            hour,
            product_code,
            HOSPITAL,
            patient_id=patient,
            bedside_check_passed=bedside,
        )

    def completed(
        self, hour: float = 25, patient: str = "P000001", product_code: str = RBC
    ) -> ReportedFact:
        return self.fact(
            "TransfusionCompleted",
            hour,
            product_code,
            HOSPITAL,
            patient_id=patient,
            volume_ml=280,
            outcome="COMPLETED",
        )

    def evaluated(
        self, hour: float = 48, patient: str = "P000001", product_code: str = RBC
    ) -> ReportedFact:
        return self.fact(
            "TransfusionEvaluated",
            hour,
            product_code,
            HOSPITAL,
            patient_id=patient,
            effective=True,
            note=None,
        )

    def checked(
        self,
        hour: float = 22.5,
        patient: str = "P000001",
        decision: str = "ALLOW",
        reasons: tuple[str, ...] = (),
        abo: str = "A",
        rhd: str = "POS",
        product_code: str = RBC,
    ) -> ReportedFact:
        """A bedside check the ledger answered (as its use case records it)."""
        return self.fact(
            "PreTransfusionCheckPerformed",
            hour,
            product_code,
            HOSPITAL,
            patient_id=patient,
            patient_abo=abo,
            patient_rhd=rhd,
            decision=decision,
            reasons=list(reasons),
        )

    def acknowledged(
        self,
        notice_id: str,
        hour: float = 30,
        action: str = "QUARANTINED",
        facility: str = HOSPITAL,
        product_code: str = RBC,
    ) -> ReportedFact:
        """A facility's answer to a recall notice about the unit."""
        return self.fact(
            "NoticeAcknowledged",
            hour,
            product_code,
            facility,
            notice_id=notice_id,
            action_taken=action,
        )

    def transfused_cleanly(self, product_code: str = RBC) -> Timeline:
        """The whole vein-to-vein path with no breach."""
        self.collected()
        self.produced(product_code=product_code)
        self.grouped()
        self.tested()
        self.released(product_code=product_code)
        self.issued(product_code=product_code)
        self.received(product_code=product_code)
        self.crossmatched(product_code=product_code)
        self.dispensed(product_code=product_code)
        self.started(product_code=product_code)
        self.completed(product_code=product_code)
        self.evaluated(product_code=product_code)
        return self


def two_units_story() -> list[ReportedFact]:
    """Two units of one donation: red cells transfused cleanly; plasma received warm,
    returned late and hung without a bedside check; then a late REACTIVE result.
    Every fact occurred at a distinct instant."""
    timeline = Timeline().transfused_cleanly(RBC)
    timeline.produced(hour=3, product_code=PLASMA, component="PLASMA")
    timeline.released(hour=6.5, product_code=PLASMA)
    timeline.issued(hour=8.5, product_code=PLASMA)
    timeline.received(hour=10.5, product_code=PLASMA, ok=False)
    timeline.dispensed(hour=30, product_code=PLASMA)
    timeline.returned(hour=31, minutes=40, product_code=PLASMA)
    timeline.started(hour=32, product_code=PLASMA, bedside=False)
    timeline.tested(hour=40, test="HCV_AB", result="REACTIVE")
    return timeline.facts
