"""The words the pages use for the ledger's codes: statuses, components, flags, facts.

The ledger's documents speak in the contract's codes (``RED_CELLS``,
``QUARANTINED``, ``NO_VALID_CROSSMATCH`` …); a person reads words, and in China
the words of the clinical blood-use rules (临床用血: 红细胞, 血浆, 血小板, 冷沉淀,
单位, 交叉配血, 输血不良反应, 库存预警). Each table here maps a code to its English
message id, marked with :func:`N_` so the catalog test extracts it; the pages
translate it from the ``pages`` catalog when they render (:meth:`Words.term`).
A code with no entry is shown as it is, never passed to the catalog as a message.

Every safety flag has a plain explanation (:data:`FLAG_EXPLANATIONS`): what the
facts showed, in words a ward nurse or an investigator reads without the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from babel.support import Translations

from ledger.domain.inventory import AlertLevel
from ledger.domain.unit_state import Status
from ledger.domain.vocabulary import (
    AckAction,
    Component,
    CrossmatchMethod,
    CrossmatchResult,
    Decision,
    DiscardReason,
    DonationType,
    EventType,
    Flag,
    Imputability,
    NoticeAction,
    Procedure,
    ReactionCategory,
    RhD,
    Severity,
    TestResult,
    TransfusionOutcome,
)

__all__ = ["FLAG_EXPLANATIONS", "TABLES", "Words"]


def N_(message: str) -> str:
    """Marks ``message`` as a message id for extraction; translated when rendered."""
    return message


STATUS: Mapping[str, str] = {
    Status.DISCARDED: N_("Discarded"),
    Status.TRANSFUSED: N_("Transfused"),
    Status.IN_TRANSFUSION: N_("Being transfused"),
    Status.DISPENSED: N_("Dispensed to a patient"),
    Status.IN_TRANSIT: N_("In transit"),
    Status.QUARANTINED: N_("Quarantined"),
    Status.AVAILABLE: N_("Available"),
    Status.PRODUCED: N_("Produced, not released"),
    Status.NOT_PRODUCED: N_("Not produced"),
}

COMPONENT: Mapping[str, str] = {
    Component.RED_CELLS: N_("Red cells"),
    Component.WHOLE_BLOOD: N_("Whole blood"),
    Component.PLASMA: N_("Plasma"),
    Component.PLATELETS: N_("Platelets"),
    Component.CRYO: N_("Cryoprecipitate"),
}

FLAG: Mapping[str, str] = {
    Flag.REACTIVE_DONATION: N_("Reactive donation"),
    Flag.UNRELEASED_USE: N_("Used before release"),
    Flag.EXPIRED_USE: N_("Used after expiry"),
    Flag.ABO_INCOMPATIBLE: N_("ABO incompatible"),
    Flag.ABO_OUT_OF_GROUP: N_("ABO out of group"),
    Flag.RHD_INCOMPATIBLE: N_("RhD incompatible"),
    Flag.NO_VALID_CROSSMATCH: N_("No valid crossmatch"),
    Flag.AUTOLOGOUS_MISMATCH: N_("Autologous unit to another patient"),
    Flag.DOUBLE_USE: N_("Transfused twice"),
    Flag.COLD_CHAIN: N_("Cold chain broken"),
    Flag.NO_BEDSIDE_CHECK: N_("No bedside check passed"),
    Flag.UNEXPECTED_SEQUENCE: N_("Facts out of sequence"),
    Flag.STARTED_AFTER_STOP: N_("Started after a bedside STOP"),
}

FLAG_EXPLANATIONS: Mapping[str, str] = {
    Flag.REACTIVE_DONATION: N_(
        "A screening test of this donation was reactive for an infection marker: "
        "the ledger quarantined every unit made from it."
    ),
    Flag.UNRELEASED_USE: N_(
        "The unit was issued, dispensed or transfused while it was not released "
        "or while it was quarantined."
    ),
    Flag.EXPIRED_USE: N_("The unit was dispensed or transfused after it had expired."),
    Flag.ABO_INCOMPATIBLE: N_(
        "The unit's ABO group is incompatible with the patient's (a major incompatibility)."
    ),
    Flag.ABO_OUT_OF_GROUP: N_(
        "Platelets or cryoprecipitate of another ABO group than the patient's were "
        "given: allowed when stock is short, and recorded."
    ),
    Flag.RHD_INCOMPATIBLE: N_("An RhD-positive unit was given to an RhD-negative patient."),
    Flag.NO_VALID_CROSSMATCH: N_(
        "Red cells or whole blood were given without a compatible crossmatch for this "
        "patient on a sample taken no more than 3 days before."
    ),
    Flag.AUTOLOGOUS_MISMATCH: N_(
        "An autologous unit, collected for its donor alone, was given to another patient."
    ),
    Flag.DOUBLE_USE: N_("A transfusion of this unit was started more than once."),
    Flag.COLD_CHAIN: N_(
        "The cold chain was broken (received out of temperature, or out of controlled "
        "storage for longer than allowed) and the unit was used afterwards."
    ),
    Flag.NO_BEDSIDE_CHECK: N_(
        "The transfusion was started without a passed bedside pre-transfusion check."
    ),
    Flag.UNEXPECTED_SEQUENCE: N_(
        "The facts do not follow the unit's life in order, e.g. received where it was "
        "not sent, or used when it was not in stock."
    ),
    Flag.STARTED_AFTER_STOP: N_(
        "The transfusion was started for a patient after the ledger's bedside check "
        "had answered STOP for that patient."
    ),
}

EVENT: Mapping[str, str] = {
    EventType.DonationCollected: N_("Donation collected"),
    EventType.TestResultRecorded: N_("Test result recorded"),
    EventType.ComponentProduced: N_("Component produced"),
    EventType.UnitReleased: N_("Released"),
    EventType.UnitQuarantined: N_("Quarantined"),
    EventType.UnitDiscarded: N_("Discarded"),
    EventType.UnitIssued: N_("Issued by the blood centre"),
    EventType.UnitReceived: N_("Received"),
    EventType.CrossmatchPerformed: N_("Crossmatch performed"),
    EventType.UnitDispensed: N_("Dispensed to a patient"),
    EventType.UnitReturned: N_("Returned to the blood bank"),
    EventType.TransfusionStarted: N_("Transfusion started"),
    EventType.TransfusionCompleted: N_("Transfusion ended"),
    EventType.AdverseReactionReported: N_("Transfusion adverse reaction reported"),
    EventType.TransfusionEvaluated: N_("Transfusion evaluated"),
    EventType.PreTransfusionCheckPerformed: N_("Bedside pre-transfusion check"),
    EventType.NoticeAcknowledged: N_("Recall notice acknowledged"),
}

ALERT: Mapping[str, str] = {
    AlertLevel.GREEN: N_("Sufficient"),
    AlertLevel.YELLOW: N_("Yellow alert"),
    AlertLevel.ORANGE: N_("Orange alert"),
    AlertLevel.RED: N_("Red alert"),
    AlertLevel.EMERGENCY: N_("Centre emergency"),
}

#: The kinds of entry ``/alerts`` lists (``projections.queries.alerts``).
ALERT_KIND: Mapping[str, str] = {
    "SAFETY_FLAG": N_("Safety flag"),
    "OPEN_NOTICE": N_("Recall notice overdue"),
    "UNMATCHED_ACKNOWLEDGEMENT": N_("Acknowledgement that closed no notice"),
    "INVENTORY": N_("Inventory alert"),
}

NOTICE_ACTION: Mapping[str, str] = {
    NoticeAction.QUARANTINE: N_("Quarantine the unit"),
    NoticeAction.NOTIFY_RECIPIENT: N_("Notify the recipient"),
}

#: A fact's fields, as the unit page labels them.
FIELD: Mapping[str, str] = {
    "donor_id": N_("Donor"),
    "donation_type": N_("Donation type"),
    "intended_patient_id": N_("Intended patient"),
    "procedure": N_("Procedure"),
    "volume_ml": N_("Volume (mL)"),
    "test": N_("Test"),
    "result": N_("Result"),
    "abo": N_("ABO"),
    "rhd": N_("RhD"),
    "component": N_("Component"),
    "units": N_("Units (U)"),
    "expires_at": N_("Expires"),
    "reason": N_("Reason"),
    "case_id": N_("Lookback case"),
    "to_facility": N_("To facility"),
    "shipment_id": N_("Shipment"),
    "temperature_ok": N_("Temperature in range"),
    "patient_id": N_("Patient"),
    "patient_abo": N_("Patient ABO"),
    "patient_rhd": N_("Patient RhD"),
    "sample_id": N_("Sample"),
    "sample_collected_at": N_("Sample collected"),
    "method": N_("Method"),
    "minutes_out_of_storage": N_("Minutes out of storage"),
    "bedside_check_passed": N_("Bedside check passed"),
    "outcome": N_("Outcome"),
    "category": N_("Category"),
    "severity": N_("Severity"),
    "imputability": N_("Imputability"),
    "onset_at": N_("Onset"),
    "effective": N_("Effective"),
    "note": N_("Note"),
    "decision": N_("Decision"),
    "reasons": N_("Reasons"),
    "notice_id": N_("Notice"),
    "action_taken": N_("Action taken"),
}

#: The values of a fact's coded fields (the codes do not collide across these).
VALUE: Mapping[str, str] = {
    "true": N_("yes"),  # a boolean field's value is looked up as "true" / "false"
    "false": N_("no"),
    DonationType.VOLUNTARY: N_("Voluntary"),
    DonationType.AUTOLOGOUS: N_("Autologous"),
    DonationType.DIRECTED: N_("Directed"),
    Procedure.WHOLE_BLOOD: N_("Whole blood collection"),
    Procedure.APHERESIS: N_("Apheresis"),
    TestResult.NEGATIVE: N_("Negative"),
    TestResult.REACTIVE: N_("Reactive"),
    TestResult.INCONCLUSIVE: N_("Inconclusive"),
    RhD.POS: N_("Positive"),
    RhD.NEG: N_("Negative"),
    DiscardReason.EXPIRED: N_("Expired"),
    DiscardReason.REACTIVE_TEST: N_("Reactive test"),
    DiscardReason.DAMAGED: N_("Damaged"),
    DiscardReason.TEMPERATURE: N_("Temperature"),
    DiscardReason.RETURNED_LATE: N_("Returned late"),
    DiscardReason.RECALLED: N_("Recalled"),
    DiscardReason.OTHER: N_("Other"),
    CrossmatchMethod.IMMEDIATE_SPIN: N_("Immediate spin"),
    CrossmatchMethod.AHG: N_("Antiglobulin (AHG)"),
    CrossmatchMethod.ELECTRONIC: N_("Electronic"),
    CrossmatchResult.COMPATIBLE: N_("Compatible"),
    CrossmatchResult.INCOMPATIBLE: N_("Incompatible"),
    TransfusionOutcome.COMPLETED: N_("Completed"),
    TransfusionOutcome.STOPPED_REACTION: N_("Stopped: reaction"),
    TransfusionOutcome.STOPPED_OTHER: N_("Stopped: other reason"),
    ReactionCategory.FNHTR: N_("Febrile non-haemolytic reaction"),
    ReactionCategory.ALLERGIC: N_("Allergic reaction"),
    ReactionCategory.ANAPHYLACTIC: N_("Anaphylactic reaction"),
    ReactionCategory.TACO: N_("Transfusion-associated circulatory overload"),
    ReactionCategory.TRALI: N_("Transfusion-related acute lung injury"),
    ReactionCategory.TAD: N_("Transfusion-associated dyspnoea"),
    ReactionCategory.AHTR: N_("Acute haemolytic reaction"),
    ReactionCategory.DHTR: N_("Delayed haemolytic reaction"),
    ReactionCategory.HYPOTENSIVE: N_("Hypotensive reaction"),
    ReactionCategory.TTI: N_("Transfusion-transmitted infection"),
    ReactionCategory.TA_GVHD: N_("Transfusion-associated graft-versus-host disease"),
    ReactionCategory.PTP: N_("Post-transfusion purpura"),
    Severity.NON_SEVERE: N_("Non-severe"),
    Severity.SEVERE: N_("Severe"),
    Severity.LIFE_THREATENING: N_("Life-threatening"),
    Severity.DEATH: N_("Death"),
    Imputability.DEFINITE: N_("Definite"),
    Imputability.PROBABLE: N_("Probable"),
    Imputability.POSSIBLE: N_("Possible"),
    Imputability.UNLIKELY: N_("Unlikely"),
    Imputability.EXCLUDED: N_("Excluded"),
    Imputability.NOT_ASSESSED: N_("Not assessed"),
    Decision.ALLOW: N_("Allow"),
    Decision.WARN: N_("Warn"),
    Decision.STOP: N_("Stop"),
    AckAction.QUARANTINED: N_("Quarantined"),
    AckAction.DISCARDED: N_("Discarded"),
    AckAction.RETURNED: N_("Returned"),
    AckAction.PATIENT_NOTIFIED: N_("Patient notified"),
    AckAction.NOT_FOUND: N_("Not found"),
}

ROLE: Mapping[str, str] = {
    "integrator": N_("integrator"),
    "clinician": N_("clinician"),
    "investigator": N_("investigator"),
    "regulator": N_("regulator"),
    "admin": N_("administrator"),
}

#: Every table by the name templates use: ``term("status", code)``.
TABLES: Mapping[str, Mapping[str, str]] = {
    "status": STATUS,
    "component": COMPONENT,
    "flag": FLAG,
    "explanation": FLAG_EXPLANATIONS,
    "event": EVENT,
    "alert": ALERT,
    "alert_kind": ALERT_KIND,
    "notice_action": NOTICE_ACTION,
    "field": FIELD,
    "value": VALUE,
    "role": ROLE,
}


class Words:
    """The glossary in one language: ``term(table, code)`` is the code's words, or
    the code itself (as data, escaped where it is shown) when the table has none."""

    def __init__(self, translations: Translations) -> None:
        self.translations = translations

    def term(self, table: str, code: object) -> str:
        key = _code(code)
        message = None if key is None else TABLES[table].get(key)
        if message is None:
            return "" if code is None else str(code)
        return str(self.translations.gettext(message))

    def terms(self, table: str, codes: Iterable[object]) -> list[str]:
        """:meth:`term` of each code."""
        return [self.term(table, code) for code in codes]


def _code(value: object) -> str | None:
    """The key a value is looked up by: a code as it is, a boolean as ``true`` /
    ``false``; nothing else (a number is never a code: ``1 == True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else None
