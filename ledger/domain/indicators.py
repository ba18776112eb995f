"""The clinical blood-use quality-control indicators a facility's facts support (pure).

《临床用血质量控制指标(2019年版)》 lists ten indicators (``shared/domain.md`` §5.4);
the seed hospital's annual report adds the component transfusion rate (成分输血率,
99.1 %), and the 2025 rules (《临床用血技术规范(2025年版)》) stress evaluating every
transfusion afterwards (输血后评价). Each indicator here is a numerator, a denominator
and their ratio, computed from the facility's transfusions, reactions and evaluations
in a window (:mod:`ledger.domain.transfusion`) — or, where the ledger does not hold
what it counts, said so: which data it lacks (:class:`MissingData`), and whatever
half of the ratio the facts do give.

Nothing here is a display text: codes only. The reports translate them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ledger.domain.transfusion import (
    RED_CELL_USE,
    Evaluation,
    Reaction,
    Transfusion,
    episodes,
    first_starts,
    reaction_cases,
    units_of,
)
from ledger.domain.vocabulary import Component


class Status(StrEnum):
    """How far the ledger's facts answer an indicator."""

    #: Computed as defined.
    COMPUTED = "COMPUTED"
    #: Computed over what the facts hold; :attr:`Indicator.missing` says what would narrow it.
    APPROXIMATE = "APPROXIMATE"
    #: One side of the ratio only (the other needs data the ledger does not hold).
    PART = "PART"
    #: Nothing: every number it needs is held elsewhere.
    NOT_COMPUTABLE = "NOT_COMPUTABLE"


class Measure(StrEnum):
    """What an indicator's value counts, and so how it is scaled."""

    PERCENT = "PERCENT"
    PER_THOUSAND_EPISODES = "PER_THOUSAND_EPISODES"
    PERSONS_PER_THOUSAND_UNITS = "PERSONS_PER_THOUSAND_UNITS"
    UNITS_PER_OPERATION = "UNITS_PER_OPERATION"
    UNITS_PER_DISCHARGE = "UNITS_PER_DISCHARGE"


#: The factor each measure's ratio is multiplied by.
SCALE: dict[Measure, float] = {
    Measure.PERCENT: 100.0,
    Measure.PER_THOUSAND_EPISODES: 1000.0,
    Measure.PERSONS_PER_THOUSAND_UNITS: 1000.0,
    Measure.UNITS_PER_OPERATION: 1.0,
    Measure.UNITS_PER_DISCHARGE: 1.0,
}


class MissingData(StrEnum):
    """Data an indicator needs that the ledger's facts do not hold."""

    #: 输血科(血库)专职专业技术人员数: the blood bank's technical staff.
    STAFF = "STAFF"
    #: Each 《临床输血申请单》 received, and whether it was filled in and met the conditions.
    REQUEST_FORMS = "REQUEST_FORMS"
    #: Each recipient sample received, and whether its group was typed again.
    RECIPIENT_SAMPLES = "RECIPIENT_SAMPLES"
    #: The compatibility tests the laboratory runs, and which have internal QC.
    INTERNAL_QC = "INTERNAL_QC"
    #: The external quality assessment programmes offered, and which it joined.
    EXTERNAL_QA = "EXTERNAL_QA"
    #: Operations with their grade (手术分级, from the 病案首页), joined to the units used.
    SURGERY = "SURGERY"
    #: Which transfused patients were surgical patients.
    SURGICAL_PATIENTS = "SURGICAL_PATIENTS"
    #: Blood re-infused without a DIN: acute normovolaemic haemodilution, cell salvage.
    UNLABELLED_AUTOLOGOUS = "UNLABELLED_AUTOLOGOUS"
    #: Discharges (出院人次), and which transfused patients were discharged.
    DISCHARGES = "DISCHARGES"


class Note(StrEnum):
    """A counting rule the ledger chose where the definition leaves one open."""

    #: 输血人次 = one patient transfused on one calendar day (UTC).
    EPISODE_PER_PATIENT_DAY = "EPISODE_PER_PATIENT_DAY"
    #: One reaction reported against several units is one case.
    REACTION_CASES = "REACTION_CASES"
    #: 单位 as the producer reported them on ``ComponentProduced``.
    UNITS_AS_REPORTED = "UNITS_AS_REPORTED"
    #: A unit counts once, at its first start.
    UNIT_ONCE = "UNIT_ONCE"
    #: Evaluations recorded so far, of the same unit and patient, at or after the start.
    EVALUATIONS_SO_FAR = "EVALUATIONS_SO_FAR"


class Source(StrEnum):
    """Where an indicator is defined."""

    #: 《临床用血质量控制指标(2019年版)》 (its number in :attr:`Indicator.number`).
    QC_2019 = "QC_2019"
    #: 《临床用血技术规范(2025年版)》: evaluate every transfusion.
    RULES_2025 = "RULES_2025"
    #: Hospitals' own annual reporting (成分输血率).
    PRACTICE = "PRACTICE"


@dataclass(frozen=True)
class Indicator:
    """One indicator for a facility and window: its ratio, or why there is none."""

    key: str
    source: Source
    #: Its number in the 2019 list (``None`` for the others).
    number: int | None
    measure: Measure
    status: Status
    numerator: float | None = None
    denominator: float | None = None
    missing: tuple[MissingData, ...] = ()
    notes: tuple[Note, ...] = ()
    #: A breakdown of the value (component shares), when there is one.
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        """numerator ÷ denominator x the measure's scale; ``None`` without both or on 0."""
        if self.numerator is None or not self.denominator:
            return None
        return self.numerator / self.denominator * SCALE[self.measure]

    def to_json(self) -> dict[str, Any]:
        """The indicator as the report documents hold it (numbers to 2 decimals)."""
        return {
            "key": self.key,
            "source": self.source,
            "number": self.number,
            "measure": self.measure,
            "status": self.status,
            "numerator": _rounded(self.numerator),
            "denominator": _rounded(self.denominator),
            "value": _rounded(self.value),
            "missing": list(self.missing),
            "notes": list(self.notes),
            "parts": {k: round(v, 2) for k, v in self.parts.items()},
        }


def _rounded(number: float | None) -> float | None:
    return None if number is None else round(number, 2)


# -- the indicators the facts answer -------------------------------------------------


def reactions_per_thousand_episodes(
    reactions: Sequence[Reaction], transfusions: Sequence[Transfusion]
) -> Indicator:
    """#6 千输血人次输血不良反应上报例数: reaction cases reported ÷ episodes x 1000."""
    return Indicator(
        key="reactions_per_thousand_episodes",
        source=Source.QC_2019,
        number=6,
        measure=Measure.PER_THOUSAND_EPISODES,
        status=Status.COMPUTED,
        numerator=len(reaction_cases(reactions)),
        denominator=len(episodes(first_starts(transfusions))),
        notes=(Note.REACTION_CASES, Note.EPISODE_PER_PATIENT_DAY),
    )


def surgical_autologous_rate(transfusions: Sequence[Transfusion]) -> Indicator:
    """#9 手术患者自体输血率: autologous red-cell and whole-blood 单位 ÷ all of them.

    Over every patient the facility transfused (the ledger does not know who was a
    surgical patient) and only autologous units with a DIN (pre-deposit): blood
    re-infused by haemodilution or cell salvage never reaches the ledger.
    """
    red = [t for t in first_starts(transfusions) if t.component in RED_CELL_USE]
    return Indicator(
        key="surgical_autologous_rate",
        source=Source.QC_2019,
        number=9,
        measure=Measure.PERCENT,
        status=Status.APPROXIMATE,
        numerator=sum(t.units for t in red if t.autologous),
        denominator=sum(t.units for t in red),
        missing=(MissingData.SURGICAL_PATIENTS, MissingData.UNLABELLED_AUTOLOGOUS),
        notes=(Note.UNITS_AS_REPORTED, Note.UNIT_ONCE),
    )


#: The components that are components (not whole blood), in the reports' order.
COMPONENTS: tuple[Component, ...] = (
    Component.RED_CELLS,
    Component.PLASMA,
    Component.PLATELETS,
    Component.CRYO,
)


def component_transfusion_rate(transfusions: Sequence[Transfusion]) -> Indicator:
    """成分输血率: 单位 of blood components ÷ 单位 of components and whole blood, with
    each component's share of the components (as hospitals report them: 红细胞 78.6 %,
    血浆 15.3 % …). Units whose component the ledger never learned are left out."""
    used = first_starts(transfusions)
    components = units_of(used, COMPONENTS)
    return Indicator(
        key="component_transfusion_rate",
        source=Source.PRACTICE,
        number=None,
        measure=Measure.PERCENT,
        status=Status.COMPUTED,
        numerator=components,
        denominator=components + units_of(used, [Component.WHOLE_BLOOD]),
        notes=(Note.UNITS_AS_REPORTED, Note.UNIT_ONCE),
        parts={str(c): units_of(used, [c]) / components * 100 for c in COMPONENTS if components},
    )


def evaluation_rate(
    transfusions: Sequence[Transfusion], evaluations: Sequence[Evaluation]
) -> Indicator:
    """输血后评价率: units transfused whose effect was evaluated ÷ units transfused."""
    found = _evaluations_by_transfusion(transfusions, evaluations)
    return Indicator(
        key="evaluation_rate",
        source=Source.RULES_2025,
        number=None,
        measure=Measure.PERCENT,
        status=Status.COMPUTED,
        numerator=sum(1 for judged in found if judged),
        denominator=len(found),
        notes=(Note.EVALUATIONS_SO_FAR, Note.UNIT_ONCE),
    )


def effective_rate(
    transfusions: Sequence[Transfusion], evaluations: Sequence[Evaluation]
) -> Indicator:
    """输血有效率: evaluated units judged effective (by their last evaluation) ÷ units
    evaluated — the ineffective transfusions (无效输注) the 2025 rules want avoided."""
    found = _evaluations_by_transfusion(transfusions, evaluations)
    last = [max(judged, key=lambda e: e.evaluated_at) for judged in found if judged]
    return Indicator(
        key="effective_rate",
        source=Source.RULES_2025,
        number=None,
        measure=Measure.PERCENT,
        status=Status.COMPUTED,
        numerator=sum(1 for e in last if e.effective),
        denominator=len(last),
        notes=(Note.EVALUATIONS_SO_FAR, Note.UNIT_ONCE),
    )


def _evaluations_by_transfusion(
    transfusions: Sequence[Transfusion], evaluations: Sequence[Evaluation]
) -> list[list[Evaluation]]:
    """For each unit transfused (once, at its first start), the evaluations of it."""
    by_unit: dict[str, list[Evaluation]] = {}
    for evaluation in evaluations:
        by_unit.setdefault(evaluation.unit_id, []).append(evaluation)
    used = first_starts(transfusions)
    return [[e for e in by_unit.get(t.unit_id, ()) if e.evaluates(t)] for t in used]


# -- the indicators it answers in part, or not at all ----------------------------------


def staff_per_thousand_units(transfusions: Sequence[Transfusion]) -> Indicator:
    """#1 每千单位用血输血专业技术人员数: staff ÷ (whole blood + red cells + plasma 单位
    ÷ 1000). The ledger gives the denominator (no cell salvage in it to exclude), not
    the staff."""
    used = units_of(
        first_starts(transfusions), [Component.WHOLE_BLOOD, Component.RED_CELLS, Component.PLASMA]
    )
    return Indicator(
        key="staff_per_thousand_units",
        source=Source.QC_2019,
        number=1,
        measure=Measure.PERSONS_PER_THOUSAND_UNITS,
        status=Status.PART,
        denominator=used,
        missing=(MissingData.STAFF,),
        notes=(Note.UNITS_AS_REPORTED,),
    )


def _not_computable(key: str, number: int, measure: Measure, *missing: MissingData) -> Indicator:
    return Indicator(
        key=key,
        source=Source.QC_2019,
        number=number,
        measure=measure,
        status=Status.NOT_COMPUTABLE,
        missing=missing,
    )


def quality_indicators(
    transfusions: Sequence[Transfusion],
    reactions: Sequence[Reaction],
    evaluations: Sequence[Evaluation],
) -> list[Indicator]:
    """Every indicator for one facility and window: the 2019 list in its order, then the
    component transfusion rate and the post-transfusion evaluation rates.

    ``transfusions`` and ``reactions`` are the facility's in the window (started,
    reported); ``evaluations`` those of the units transfused, whenever recorded.
    """
    percent, per_op = Measure.PERCENT, Measure.UNITS_PER_OPERATION
    return [
        staff_per_thousand_units(transfusions),
        _not_computable("request_form_rate", 2, percent, MissingData.REQUEST_FORMS),
        _not_computable("sample_retyping_rate", 3, percent, MissingData.RECIPIENT_SAMPLES),
        _not_computable("internal_qc_rate", 4, percent, MissingData.INTERNAL_QC),
        _not_computable("external_qa_rate", 5, percent, MissingData.EXTERNAL_QA),
        reactions_per_thousand_episodes(reactions, transfusions),
        _not_computable("minor_surgery_units", 7, per_op, MissingData.SURGERY),
        _not_computable("major_surgery_units", 8, per_op, MissingData.SURGERY),
        surgical_autologous_rate(transfusions),
        _not_computable("discharge_units", 10, Measure.UNITS_PER_DISCHARGE, MissingData.DISCHARGES),
        component_transfusion_rate(transfusions),
        evaluation_rate(transfusions, evaluations),
        effective_rate(transfusions, evaluations),
    ]
