"""The contract's closed vocabularies (``shared/contract/events-v1.md``).

Each enum's members are exactly the Avro enum symbols of the v1 contract; a
schema test keeps the two in step. Values are stored as plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class DonationType(StrEnum):
    VOLUNTARY = "VOLUNTARY"
    AUTOLOGOUS = "AUTOLOGOUS"
    DIRECTED = "DIRECTED"


class Procedure(StrEnum):
    WHOLE_BLOOD = "WHOLE_BLOOD"
    APHERESIS = "APHERESIS"


class Test(StrEnum):
    HIV_NAT = "HIV_NAT"
    HBV_NAT = "HBV_NAT"
    HCV_NAT = "HCV_NAT"
    HIV_AB = "HIV_AB"
    HBSAG = "HBSAG"
    HCV_AB = "HCV_AB"
    SYPHILIS = "SYPHILIS"
    ALT = "ALT"
    ABO_RHD = "ABO_RHD"


#: Tests whose REACTIVE result means a transfusion-transmissible infection marker.
#: ALT (a liver enzyme) and ABO_RHD (grouping) are not infectious markers.
INFECTIOUS_MARKERS: frozenset[str] = frozenset(
    {Test.HIV_NAT, Test.HBV_NAT, Test.HCV_NAT, Test.HIV_AB, Test.HBSAG, Test.HCV_AB, Test.SYPHILIS}
)


class TestResult(StrEnum):
    NEGATIVE = "NEGATIVE"
    REACTIVE = "REACTIVE"
    INCONCLUSIVE = "INCONCLUSIVE"


def is_reactive_marker(test: object, result: object) -> bool:
    """True for a REACTIVE result of an infectious-marker test: the donation is reactive."""
    return test in INFECTIOUS_MARKERS and result == TestResult.REACTIVE


class ABO(StrEnum):
    O = "O"
    A = "A"
    B = "B"
    AB = "AB"


class RhD(StrEnum):
    POS = "POS"
    NEG = "NEG"


class Component(StrEnum):
    RED_CELLS = "RED_CELLS"
    WHOLE_BLOOD = "WHOLE_BLOOD"
    PLASMA = "PLASMA"
    PLATELETS = "PLATELETS"
    CRYO = "CRYO"


class DiscardReason(StrEnum):
    EXPIRED = "EXPIRED"
    REACTIVE_TEST = "REACTIVE_TEST"
    DAMAGED = "DAMAGED"
    TEMPERATURE = "TEMPERATURE"
    RETURNED_LATE = "RETURNED_LATE"
    RECALLED = "RECALLED"
    OTHER = "OTHER"


class CrossmatchMethod(StrEnum):
    IMMEDIATE_SPIN = "IMMEDIATE_SPIN"
    AHG = "AHG"
    ELECTRONIC = "ELECTRONIC"


class CrossmatchResult(StrEnum):
    COMPATIBLE = "COMPATIBLE"
    INCOMPATIBLE = "INCOMPATIBLE"


class TransfusionOutcome(StrEnum):
    COMPLETED = "COMPLETED"
    STOPPED_REACTION = "STOPPED_REACTION"
    STOPPED_OTHER = "STOPPED_OTHER"


class ReactionCategory(StrEnum):
    FNHTR = "FNHTR"
    ALLERGIC = "ALLERGIC"
    ANAPHYLACTIC = "ANAPHYLACTIC"
    TACO = "TACO"
    TRALI = "TRALI"
    TAD = "TAD"
    AHTR = "AHTR"
    DHTR = "DHTR"
    HYPOTENSIVE = "HYPOTENSIVE"
    TTI = "TTI"
    TA_GVHD = "TA_GVHD"
    PTP = "PTP"
    OTHER = "OTHER"


class Severity(StrEnum):
    NON_SEVERE = "NON_SEVERE"
    SEVERE = "SEVERE"
    LIFE_THREATENING = "LIFE_THREATENING"
    DEATH = "DEATH"


class Imputability(StrEnum):
    DEFINITE = "DEFINITE"
    PROBABLE = "PROBABLE"
    POSSIBLE = "POSSIBLE"
    UNLIKELY = "UNLIKELY"
    EXCLUDED = "EXCLUDED"
    NOT_ASSESSED = "NOT_ASSESSED"


class EventType(StrEnum):
    """The payload record names of the contract: the event types."""

    DonationCollected = "DonationCollected"
    TestResultRecorded = "TestResultRecorded"
    ComponentProduced = "ComponentProduced"
    UnitReleased = "UnitReleased"
    UnitQuarantined = "UnitQuarantined"
    UnitDiscarded = "UnitDiscarded"
    UnitIssued = "UnitIssued"
    UnitReceived = "UnitReceived"
    CrossmatchPerformed = "CrossmatchPerformed"
    UnitDispensed = "UnitDispensed"
    UnitReturned = "UnitReturned"
    TransfusionStarted = "TransfusionStarted"
    TransfusionCompleted = "TransfusionCompleted"
    AdverseReactionReported = "AdverseReactionReported"
    TransfusionEvaluated = "TransfusionEvaluated"
    PreTransfusionCheckPerformed = "PreTransfusionCheckPerformed"
    NoticeAcknowledged = "NoticeAcknowledged"


#: Event types about the donation as a whole (``product_code`` is null).
DONATION_LEVEL: frozenset[str] = frozenset(
    {EventType.DonationCollected, EventType.TestResultRecorded}
)
#: Event types the ledger records itself (the bedside checks it answers): integrators
#: do not send them, so a stream of integrators' facts holds none.
LEDGER_RECORDED: frozenset[str] = frozenset({EventType.PreTransfusionCheckPerformed})


class Decision(StrEnum):
    """A bedside pre-transfusion check's answer (:mod:`ledger.domain.bedside`)."""

    ALLOW = "ALLOW"
    WARN = "WARN"
    STOP = "STOP"


class ReasonCode(StrEnum):
    """Why a bedside check warns or stops. A code named like a :class:`Flag` means what
    the flag means: the flag a transfusion started at that instant would raise."""

    NOT_RELEASED = "NOT_RELEASED"
    QUARANTINED = "QUARANTINED"
    DISCARDED = "DISCARDED"
    EXPIRED_USE = "EXPIRED_USE"
    ABO_INCOMPATIBLE = "ABO_INCOMPATIBLE"
    ABO_OUT_OF_GROUP = "ABO_OUT_OF_GROUP"
    RHD_INCOMPATIBLE = "RHD_INCOMPATIBLE"
    NO_VALID_CROSSMATCH = "NO_VALID_CROSSMATCH"
    OTHER_PATIENT = "OTHER_PATIENT"
    AUTOLOGOUS_MISMATCH = "AUTOLOGOUS_MISMATCH"
    DOUBLE_USE = "DOUBLE_USE"
    REACTIVE_DONATION = "REACTIVE_DONATION"
    COLD_CHAIN = "COLD_CHAIN"
    OUT_OF_STORAGE = "OUT_OF_STORAGE"
    NOT_RECEIVED_HERE = "NOT_RECEIVED_HERE"
    PATIENT_GROUP_MISMATCH = "PATIENT_GROUP_MISMATCH"


class NoticeAction(StrEnum):
    """What a recall notice asks of the facility it is sent to (``RecallNotice.action``)."""

    QUARANTINE = "QUARANTINE"
    NOTIFY_RECIPIENT = "NOTIFY_RECIPIENT"


class AckAction(StrEnum):
    """What a facility did about a unit when it acknowledged a recall notice
    (``NoticeAcknowledged.action_taken``): every answer closes the notice, ``NOT_FOUND``
    included — the facility looked and says so, which is what the sender must know."""

    QUARANTINED = "QUARANTINED"
    DISCARDED = "DISCARDED"
    RETURNED = "RETURNED"
    PATIENT_NOTIFIED = "PATIENT_NOTIFIED"
    NOT_FOUND = "NOT_FOUND"


class Flag(StrEnum):
    """Safety flags a unit gets when its facts show a rule breach."""

    REACTIVE_DONATION = "REACTIVE_DONATION"
    UNRELEASED_USE = "UNRELEASED_USE"
    EXPIRED_USE = "EXPIRED_USE"
    ABO_INCOMPATIBLE = "ABO_INCOMPATIBLE"
    ABO_OUT_OF_GROUP = "ABO_OUT_OF_GROUP"
    RHD_INCOMPATIBLE = "RHD_INCOMPATIBLE"
    NO_VALID_CROSSMATCH = "NO_VALID_CROSSMATCH"
    AUTOLOGOUS_MISMATCH = "AUTOLOGOUS_MISMATCH"
    DOUBLE_USE = "DOUBLE_USE"
    COLD_CHAIN = "COLD_CHAIN"
    NO_BEDSIDE_CHECK = "NO_BEDSIDE_CHECK"
    UNEXPECTED_SEQUENCE = "UNEXPECTED_SEQUENCE"
    STARTED_AFTER_STOP = "STARTED_AFTER_STOP"


#: Flags that say something is known about a unit without a rule having been broken:
#: a reactive donation (the ledger quarantined it), out-of-group platelets or cryo.
INFORMATIVE_FLAGS: frozenset[Flag] = frozenset({Flag.REACTIVE_DONATION, Flag.ABO_OUT_OF_GROUP})
#: Flags that are rule breaches.
BREACH_FLAGS: frozenset[Flag] = frozenset(Flag) - INFORMATIVE_FLAGS
