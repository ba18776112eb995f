"""The words for the ledger's codes, for the pages and the reports alike.

The ledger's documents speak in codes — the contract's (``RED_CELLS``,
``NO_VALID_CROSSMATCH`` …), the state machine's (``QUARANTINED``), the reports'
(indicator keys, the data an indicator lacks) — and a person reads words: in China
the words of the clinical blood-use rules (临床用血: 红细胞, 血浆, 血小板, 冷沉淀,
单位, 交叉配血, 输血不良反应, 库存预警). Each table here maps a code to its English
message id, marked once with :func:`N_` (the catalog tests extract them), and
:class:`Words` translates it when a page or a report is rendered. A code with no
entry is shown as it is, never passed to the catalog as a message.

One module and one catalog domain, ``terms`` (``ledger/locale/<lang>/LC_MESSAGES/
terms.po``), for both surfaces: a component, a reaction or an alert level has one
name on the pages and in the reports. The pages' and the reports' own sentences stay
in their own domains (``pages``, ``reports``).

Some sentences are the ledger's own (:class:`~ledger.domain.sentence.Sentence`): a
finding's detail, why an acknowledgement closed no notice, what a lookback could not
determine, why a report cannot be made. Their documents carry a code and fields beside
the English; :meth:`Words.sentence` says them in the reader's language (each field's
value in its own words), and answers ``None`` for a code the catalog does not know, so
that the page shows the recorded English instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

from babel.support import Translations

from ledger.domain.acknowledgement import Unmatched
from ledger.domain.indicators import Measure, MissingData, Note, Source
from ledger.domain.indicators import Status as IndicatorStatus
from ledger.domain.inventory import AlertLevel
from ledger.domain.unit_state import DetailCode, Status, Use
from ledger.domain.vocabulary import (
    ABO,
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
    Test,
    TestResult,
    TransfusionOutcome,
)
from ledger.entrypoints import i18n
from ledger.services.lookback import Undetermined
from ledger.services.quality import Refusal

__all__ = ["DOMAIN", "FLAG_EXPLANATIONS", "N_", "SENTENCES", "TABLES", "Words", "written_in"]

#: The catalog domain of the terms.
DOMAIN = "terms"


def N_(message: str) -> str:
    """Marks ``message`` as a message id for extraction; translated when rendered."""
    return message


# -- the words both surfaces use -----------------------------------------------------

COMPONENT: Mapping[str, str] = {
    Component.RED_CELLS: N_("Red cells"),
    Component.WHOLE_BLOOD: N_("Whole blood"),
    Component.PLASMA: N_("Plasma"),
    Component.PLATELETS: N_("Platelets"),
    Component.CRYO: N_("Cryoprecipitate"),
    "?": N_("Unknown component"),
}

GROUP: Mapping[str, str] = {
    ABO.O: N_("Group O"),
    ABO.A: N_("Group A"),
    ABO.B: N_("Group B"),
    ABO.AB: N_("Group AB"),
    "?": N_("Group unknown"),
}

RHD: Mapping[str, str] = {
    RhD.POS: N_("RhD positive"),
    RhD.NEG: N_("RhD negative"),
    "?": N_("RhD unknown"),
}

REACTION: Mapping[str, str] = {
    ReactionCategory.FNHTR: N_("Febrile non-haemolytic reaction"),
    ReactionCategory.ALLERGIC: N_("Allergic reaction"),
    ReactionCategory.ANAPHYLACTIC: N_("Anaphylactic reaction"),
    ReactionCategory.TACO: N_("Transfusion-associated circulatory overload"),
    ReactionCategory.TRALI: N_("Transfusion-related acute lung injury"),
    ReactionCategory.TAD: N_("Transfusion-associated dyspnoea"),
    ReactionCategory.AHTR: N_("Acute haemolytic transfusion reaction"),
    ReactionCategory.DHTR: N_("Delayed haemolytic transfusion reaction"),
    ReactionCategory.HYPOTENSIVE: N_("Hypotensive reaction"),
    ReactionCategory.TTI: N_("Transfusion-transmitted infection"),
    ReactionCategory.TA_GVHD: N_("Transfusion-associated graft-versus-host disease"),
    ReactionCategory.PTP: N_("Post-transfusion purpura"),
    ReactionCategory.OTHER: N_("Other reaction"),
}

SEVERITY: Mapping[str, str] = {
    Severity.NON_SEVERE: N_("Non-severe"),
    Severity.SEVERE: N_("Severe"),
    Severity.LIFE_THREATENING: N_("Life-threatening"),
    Severity.DEATH: N_("Death"),
}

IMPUTABILITY: Mapping[str, str] = {
    Imputability.DEFINITE: N_("Definite"),
    Imputability.PROBABLE: N_("Probable"),
    Imputability.POSSIBLE: N_("Possible"),
    Imputability.UNLIKELY: N_("Unlikely"),
    Imputability.EXCLUDED: N_("Excluded"),
    Imputability.NOT_ASSESSED: N_("Not assessed"),
}

ALERT: Mapping[str, str] = {
    AlertLevel.GREEN: N_("Sufficient"),
    AlertLevel.YELLOW: N_("Yellow alert"),
    AlertLevel.ORANGE: N_("Orange alert"),
    AlertLevel.RED: N_("Red alert"),
    AlertLevel.EMERGENCY: N_("Centre emergency"),
}

TEST: Mapping[str, str] = {
    Test.HIV_NAT: N_("HIV nucleic acid test"),
    Test.HBV_NAT: N_("HBV nucleic acid test"),
    Test.HCV_NAT: N_("HCV nucleic acid test"),
    Test.HIV_AB: N_("HIV antibody"),
    Test.HBSAG: N_("Hepatitis B surface antigen (HBsAg)"),
    Test.HCV_AB: N_("HCV antibody"),
    Test.SYPHILIS: N_("Syphilis"),
    Test.ALT: N_("Alanine aminotransferase (ALT)"),
    Test.ABO_RHD: N_("ABO and RhD grouping"),
}

# -- the pages' words ----------------------------------------------------------------

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

#: The values of a fact's other coded fields (the codes do not collide across these).
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

#: The uses of a unit, as a finding's detail names them (its ``action``).
USE: Mapping[str, str] = {
    Use.ISSUE: N_("Issue"),
    Use.DISPENSE: N_("Dispensing"),
    Use.TRANSFUSION: N_("Transfusion"),
}

# -- the reports' words --------------------------------------------------------------

#: The levels' short names, for table headings.
ALERT_SHORT: Mapping[str, str] = {
    AlertLevel.GREEN: N_("Green"),
    AlertLevel.YELLOW: N_("Yellow"),
    AlertLevel.ORANGE: N_("Orange"),
    AlertLevel.RED: N_("Red"),
    AlertLevel.EMERGENCY: N_("Emergency"),
}

INDICATOR_STATUS: Mapping[str, str] = {
    IndicatorStatus.COMPUTED: N_("Computed"),
    IndicatorStatus.APPROXIMATE: N_("Computed over the facts the ledger holds"),
    IndicatorStatus.PART: N_("Only part of it"),
    IndicatorStatus.NOT_COMPUTABLE: N_("Cannot be computed from the ledger"),
}

MEASURE: Mapping[str, str] = {
    Measure.PERCENT: N_("%"),
    Measure.PER_THOUSAND_EPISODES: N_("cases per 1,000 transfusion episodes"),
    Measure.PERSONS_PER_THOUSAND_UNITS: N_("staff per 1,000 units"),
    Measure.UNITS_PER_OPERATION: N_("units per operation"),
    Measure.UNITS_PER_DISCHARGE: N_("units per discharge"),
}

SOURCE: Mapping[str, str] = {
    Source.QC_2019: N_("Clinical blood-use quality-control indicators (2019)"),
    Source.RULES_2025: N_("Technical rules for clinical blood use (2025)"),
    Source.PRACTICE: N_("Hospitals' annual clinical blood-use reporting"),
}

INDICATOR: Mapping[str, str] = {
    "staff_per_thousand_units": N_("Transfusion technical staff per 1,000 units used"),
    "request_form_rate": N_("Clinical transfusion request forms that pass"),
    "sample_retyping_rate": N_("Recipient samples whose blood group is checked again"),
    "internal_qc_rate": N_("Compatibility tests under internal quality control"),
    "external_qa_rate": N_("Compatibility-test external quality assessments joined"),
    "reactions_per_thousand_episodes": N_(
        "Transfusion reactions reported per 1,000 transfusion episodes"
    ),
    "minor_surgery_units": N_("Units used per grade 1 and 2 operation"),
    "major_surgery_units": N_("Units used per grade 3 and 4 operation"),
    "surgical_autologous_rate": N_("Autologous transfusion rate of surgical patients"),
    "discharge_units": N_("Units used per discharged patient"),
    "component_transfusion_rate": N_("Component transfusion rate"),
    "evaluation_rate": N_("Post-transfusion evaluation rate"),
    "effective_rate": N_("Transfusions evaluated as effective"),
}

NUMERATOR: Mapping[str, str] = {
    "staff_per_thousand_units": N_("Full-time technical staff of the blood bank"),
    "request_form_rate": N_("Request forms filled in correctly and meeting the conditions"),
    "sample_retyping_rate": N_("Recipient samples re-typed"),
    "internal_qc_rate": N_("Compatibility tests with internal quality control"),
    "external_qa_rate": N_("External quality assessments joined"),
    "reactions_per_thousand_episodes": N_("Transfusion reaction cases reported"),
    "minor_surgery_units": N_("Red-cell and whole-blood units used in grade 1 and 2 operations"),
    "major_surgery_units": N_("Red-cell and whole-blood units used in grade 3 and 4 operations"),
    "surgical_autologous_rate": N_("Autologous red-cell and whole-blood units transfused"),
    "discharge_units": N_("Red-cell and whole-blood units used by discharged patients"),
    "component_transfusion_rate": N_("Units of blood components transfused"),
    "evaluation_rate": N_("Units transfused whose effect was evaluated"),
    "effective_rate": N_("Evaluated units judged effective"),
}

DENOMINATOR: Mapping[str, str] = {
    "staff_per_thousand_units": N_(
        "Whole-blood, red-cell and plasma units used (without cell salvage)"
    ),
    "request_form_rate": N_("Request forms the blood bank received"),
    "sample_retyping_rate": N_("Recipient samples received"),
    "internal_qc_rate": N_("Compatibility tests the laboratory runs"),
    "external_qa_rate": N_("External quality assessments offered"),
    "reactions_per_thousand_episodes": N_("Transfusion episodes"),
    "minor_surgery_units": N_("Grade 1 and 2 operations"),
    "major_surgery_units": N_("Grade 3 and 4 operations"),
    "surgical_autologous_rate": N_("Allogeneic and autologous red-cell and whole-blood units"),
    "discharge_units": N_("Discharges"),
    "component_transfusion_rate": N_("Units of components and whole blood transfused"),
    "evaluation_rate": N_("Units transfused"),
    "effective_rate": N_("Units transfused whose effect was evaluated"),
}

MISSING: Mapping[str, str] = {
    MissingData.STAFF: N_("The number of the blood bank's full-time technical staff"),
    MissingData.REQUEST_FORMS: N_(
        "Each transfusion request form received, and whether it was filled in correctly "
        "and met the conditions for blood use"
    ),
    MissingData.RECIPIENT_SAMPLES: N_(
        "Each recipient sample received, and whether its ABO and RhD were typed again"
    ),
    MissingData.INTERNAL_QC: N_(
        "The compatibility tests the laboratory runs, and which of them have internal "
        "quality control"
    ),
    MissingData.EXTERNAL_QA: N_(
        "The external quality assessment programmes offered, and which the laboratory joined"
    ),
    MissingData.SURGERY: N_(
        "Operations with their grade (from the front page of the medical record), joined to "
        "the units used in them"
    ),
    MissingData.SURGICAL_PATIENTS: N_(
        "Which transfused patients were surgical patients: the rate here covers every patient"
    ),
    MissingData.UNLABELLED_AUTOLOGOUS: N_(
        "Blood re-infused without a DIN (acute normovolaemic haemodilution, cell salvage): "
        "only pre-deposit autologous units reach the ledger"
    ),
    MissingData.DISCHARGES: N_(
        "Discharges, and which transfused patients were discharged in the period"
    ),
}

NOTE: Mapping[str, str] = {
    Note.EPISODE_PER_PATIENT_DAY: N_(
        "A transfusion episode is one patient transfused at the facility on one calendar "
        "day (UTC); the 2019 indicators do not define one"
    ),
    Note.REACTION_CASES: N_(
        "One reaction (same patient, category and onset) reported against several units "
        "counts as one case"
    ),
    Note.UNITS_AS_REPORTED: N_("Units (单位) are those the producer reported for each component"),
    Note.UNIT_ONCE: N_("A unit counts once, at its first start; a second start is a safety flag"),
    Note.EVALUATIONS_SO_FAR: N_(
        "Evaluations recorded so far of the same unit and patient, at or after the start"
    ),
}

# -- the ledger's own sentences -------------------------------------------------------

#: A finding's detail (``detail_code``; its ``detail_fields`` fill the placeholders).
DETAIL: Mapping[str, str] = {
    DetailCode.NOT_IN_STOCK: N_("%(action)s of a unit that was not in stock"),
    DetailCode.USED_WHILE_QUARANTINED: N_("%(action)s while the unit was quarantined"),
    DetailCode.USED_UNRELEASED: N_("%(action)s before the unit was released"),
    DetailCode.USED_AFTER_COLD_CHAIN_BREACH: N_("%(action)s after the cold chain was broken"),
    DetailCode.REACTIVE_TEST: N_("Reactive result: %(test)s"),
    DetailCode.PRODUCED_TWICE: N_("The component was reported produced twice"),
    DetailCode.RECEIVED_WHERE_NOT_ISSUED: N_("Received at a facility it was not issued to"),
    DetailCode.CROSSMATCH_BEFORE_PRODUCTION: N_("Crossmatched before the unit existed"),
    DetailCode.STARTED_TWICE: N_("A transfusion of the unit started a second time"),
    DetailCode.STARTED_AFTER_EXPIRY: N_("Transfusion started after the unit expired"),
    DetailCode.BEDSIDE_CHECK_NOT_PASSED: N_("Transfusion started without a passed bedside check"),
    DetailCode.STARTED_AFTER_STOP: N_("Transfusion started after a bedside STOP"),
    DetailCode.AUTOLOGOUS_TO_ANOTHER_PATIENT: N_("Autologous unit given to another patient"),
    DetailCode.ABO_MISMATCH: N_(
        "%(component)s of group %(abo)s given to a patient of group %(patient_abo)s"
    ),
    DetailCode.RHD_MISMATCH: N_("%(rhd)s red cells given to a patient who is %(patient_rhd)s"),
    DetailCode.NO_RECENT_CROSSMATCH: N_(
        "No compatible crossmatch on a sample taken in the last 3 days"
    ),
    DetailCode.COMPLETED_NEVER_STARTED: N_("Transfusion reported ended but never started"),
}

#: Why an acknowledgement closed no notice (``why_code`` and ``why_fields``).
UNMATCHED: Mapping[str, str] = {
    Unmatched.NO_SUCH_NOTICE: N_("It names no notice the ledger sent about this unit."),
    Unmatched.OTHER_FACILITY: N_(
        "It came from %(facility)s; the notice was sent to %(notice_facility)s."
    ),
}

#: What a lookback could not determine (a report's ``undetermined_codes``).
UNDETERMINED: Mapping[str, str] = {
    Undetermined.NO_COMPONENT_REPORTED: N_(
        "Donation %(din)s: no component of it has been reported."
    ),
    Undetermined.WHEREABOUTS_UNCONFIRMED: N_(
        "Unit %(din)s %(product_code)s: %(status)s; no fact confirms where it is now."
    ),
    Undetermined.COLLECTIONS_UNREPORTED: N_(
        "Donations whose collection was never reported cannot be attributed to this donor."
    ),
}

#: Why a report cannot be made (:class:`~ledger.services.quality.InvalidReport`).
REFUSAL: Mapping[str, str] = {
    Refusal.NOT_A_FIN: N_(
        "the facility must be an ISBT 128 Facility Identification Number (5 characters, e.g. S3102)"
    ),
    Refusal.NO_TIMEZONE: N_("the start and the end of the period need a timezone (UTC)"),
    Refusal.ENDS_BEFORE_START: N_("the last day must not come before the first"),
    Refusal.TOO_LONG: N_("a report covers at most 10 years"),
    Refusal.STEP_TOO_FINE: N_("the inventory report samples at most once an hour"),
}

#: The table that words each value a sentence names, by the value's name (a FIN,
#: a DIN, an ABO group are shown as they are).
SENTENCE_FIELDS: Mapping[str, str] = {
    "action": "use",
    "test": "test",
    "component": "component",
    "rhd": "rhd",
    "patient_rhd": "rhd",
    "status": "status",
}

#: The table that words a fact's field on the unit page, by the field's name.
FIELD_VALUES: Mapping[str, str] = {
    "component": "component",
    "test": "test",
    "rhd": "rhd",
    "patient_rhd": "rhd",
    "category": "reaction",
    "severity": "severity",
    "imputability": "imputability",
}

#: Every table of words, by the name templates use: ``term("status", code)``.
TABLES: Mapping[str, Mapping[str, str]] = {
    "component": COMPONENT,
    "group": GROUP,
    "rhd": RHD,
    "reaction": REACTION,
    "severity": SEVERITY,
    "imputability": IMPUTABILITY,
    "alert": ALERT,
    "test": TEST,
    "status": STATUS,
    "flag": FLAG,
    "explanation": FLAG_EXPLANATIONS,
    "event": EVENT,
    "alert_kind": ALERT_KIND,
    "notice_action": NOTICE_ACTION,
    "field": FIELD,
    "value": VALUE,
    "role": ROLE,
    "use": USE,
    "alert_short": ALERT_SHORT,
    "indicator_status": INDICATOR_STATUS,
    "measure": MEASURE,
    "source": SOURCE,
    "indicator": INDICATOR,
    "numerator": NUMERATOR,
    "denominator": DENOMINATOR,
    "missing": MISSING,
    "note": NOTE,
}

#: Every table of sentences, by the name templates use: ``sentence("detail", code, fields)``.
SENTENCES: Mapping[str, Mapping[str, str]] = {
    "detail": DETAIL,
    "unmatched": UNMATCHED,
    "undetermined": UNDETERMINED,
    "refusal": REFUSAL,
}


class Words:
    """The terms in one language: ``term(table, code)`` is the code's words, or the
    code itself (as data, escaped where it is shown) when the table has none; a
    missing code (``None``) is ``none``."""

    def __init__(self, translations: Translations, none: str = "") -> None:
        self.translations = translations
        self.none = none

    @classmethod
    def of(cls, lang: str, none: str = "") -> Words:
        """The terms in ``lang`` (a catalog language, ``zh_CN`` or ``en``)."""
        return _words(lang, none)

    def term(self, table: str, code: object) -> str:
        key = _code(code)
        message = None if key is None else TABLES[table].get(key)
        if message is None:
            return self.none if code is None else str(code)
        return self._(message)

    def terms(self, table: str, codes: Iterable[object]) -> list[str]:
        """:meth:`term` of each code."""
        return [self.term(table, code) for code in codes]

    def field_value(self, field: str, code: object) -> str:
        """The value of a fact's field ``field``, in the words of that field."""
        return self.term(FIELD_VALUES.get(field, "value"), code)

    def group(self, abo: str, rhd: str) -> str:
        """A stock group's name: its ABO group and RhD."""
        return f"{self.term('group', abo)} {self.term('rhd', rhd)}"

    def sentence(
        self, table: str, code: str | None, fields: Mapping[str, object] | None = None
    ) -> str | None:
        """The ledger's sentence ``code`` in this language, each field's value in its
        own words (:data:`SENTENCE_FIELDS`); ``None`` when the table has no such code
        (the caller shows the recorded English instead)."""
        message = SENTENCES[table].get(code) if code else None
        if message is None:
            return None
        values = {
            name: self.term(SENTENCE_FIELDS[name], value) if name in SENTENCE_FIELDS else value
            for name, value in (fields or {}).items()
        }
        try:
            return self._(message) % values
        except (KeyError, TypeError, ValueError):  # fields that do not fit: as recorded
            return None

    def _(self, message: str) -> str:
        return str(self.translations.gettext(message))


@functools.cache
def _words(lang: str, none: str) -> Words:
    return Words(i18n.translations(lang, DOMAIN), none)


def written_in(text: object) -> str:
    """The language a recorded text is written in, as an HTML ``lang`` (``zh-CN`` for
    a text with Chinese characters, else ``en``): a reason an investigator typed is
    shown as typed, marked where it is not the page's language."""
    return "zh-CN" if _HAN.search(str(text or "")) else "en"


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _code(value: object) -> str | None:
    """The key a value is looked up by: a code as it is, a boolean as ``true`` /
    ``false``; nothing else (a number is never a code: ``1 == True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else None
