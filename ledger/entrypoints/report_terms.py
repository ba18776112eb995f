"""The words the reports use for the codes in their documents.

A report document (:mod:`ledger.services.quality`) speaks in codes — indicator keys,
components, reaction categories, alert levels, the data an indicator lacks. Each
table here maps a code to its English message id, marked with :func:`N_` so the
catalog test extracts it, and :class:`Terms` translates it from the ``reports``
catalog when a report is rendered: in Chinese, the words of the clinical blood-use
rules (红细胞, 血浆, 血小板, 冷沉淀, 单位, 输血不良反应, 库存预警 …). A code with no entry
is shown as it is, never passed to the catalog as a message.
"""

from __future__ import annotations

from collections.abc import Mapping

from babel.support import Translations

from ledger.domain.indicators import Measure, MissingData, Note, Source, Status
from ledger.domain.inventory import AlertLevel
from ledger.domain.vocabulary import ABO, Component, Imputability, ReactionCategory, RhD, Severity

__all__ = ["TABLES", "Terms"]


def N_(message: str) -> str:
    """Marks ``message`` as a message id for extraction; translated when rendered."""
    return message


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
    AlertLevel.GREEN: N_("Green: enough stock"),
    AlertLevel.YELLOW: N_("Yellow alert"),
    AlertLevel.ORANGE: N_("Orange alert"),
    AlertLevel.RED: N_("Red alert"),
    AlertLevel.EMERGENCY: N_("Blood centre emergency"),
}

#: The levels' short names, for table headings.
ALERT_SHORT: Mapping[str, str] = {
    AlertLevel.GREEN: N_("Green"),
    AlertLevel.YELLOW: N_("Yellow"),
    AlertLevel.ORANGE: N_("Orange"),
    AlertLevel.RED: N_("Red"),
    AlertLevel.EMERGENCY: N_("Emergency"),
}

STATUS: Mapping[str, str] = {
    Status.COMPUTED: N_("Computed"),
    Status.APPROXIMATE: N_("Computed over the facts the ledger holds"),
    Status.PART: N_("Only part of it"),
    Status.NOT_COMPUTABLE: N_("Cannot be computed from the ledger"),
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

#: Every table, by the name templates ask for it by.
TABLES: Mapping[str, Mapping[str, str]] = {
    "component": COMPONENT,
    "group": GROUP,
    "rhd": RHD,
    "reaction": REACTION,
    "severity": SEVERITY,
    "imputability": IMPUTABILITY,
    "alert": ALERT,
    "alert_short": ALERT_SHORT,
    "status": STATUS,
    "measure": MEASURE,
    "source": SOURCE,
    "indicator": INDICATOR,
    "numerator": NUMERATOR,
    "denominator": DENOMINATOR,
    "missing": MISSING,
    "note": NOTE,
}


class Terms:
    """The tables in one language."""

    def __init__(self, translations: Translations) -> None:
        self.translations = translations

    def __call__(self, table: str, code: str | None) -> str:
        """The word for ``code`` in ``table``; the code itself when the table has none."""
        if code is None:
            return "—"
        message = TABLES[table].get(code)
        return self.translations.gettext(message) if message else code

    def group(self, abo: str, rhd: str) -> str:
        """A stock group's name: its ABO group and RhD."""
        return f"{self('group', abo)} {self('rhd', rhd)}"
