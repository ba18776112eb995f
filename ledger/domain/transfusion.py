"""A facility's transfusions as the reports count them: what was hung, what followed.

The quality-control and hemovigilance reports count three kinds of fact at one
facility — units hung (``TransfusionStarted``), adverse reactions reported
(``AdverseReactionReported``) and post-transfusion evaluations
(``TransfusionEvaluated``) — each with what the unit was (component, 单位, whether
its donation was autologous). These records are those facts as the read models
keep them; the counting rules every report shares live here, once:

- a unit counts once, at its first start: a second start is a ``DOUBLE_USE`` flag
  on the unit, not a second unit transfused (:func:`first_starts`);
- a transfusion episode (输血人次) is one patient transfused at the facility on one
  calendar day (UTC) — the 2019 indicators leave 输血人次 undefined
  (``shared/domain.md`` §5.4), so the ledger states its own (:func:`episodes`);
- a reaction case is one patient's reaction of one category with one onset: the same
  reaction reported against each of several units hung together is one case, counted
  at its first report (:func:`reaction_cases`).

Patient identifiers here are the ledger's sealed tokens (equal for equal patients),
never shown: the reports count them, they do not list them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ledger.domain.vocabulary import Component

#: Red cells and whole blood: what the 2019 indicators #8-#10 count as 用血单位.
RED_CELL_USE = frozenset({Component.RED_CELLS, Component.WHOLE_BLOOD})


@dataclass(frozen=True)
class Transfusion:
    """One unit started for one patient at a facility, with what the unit was."""

    unit_id: str
    patient_id: str
    facility: str
    started_at: datetime
    #: ``None`` when the ledger never learned the unit's production (no ``ComponentProduced``).
    component: str | None
    #: 单位 (the 200 mL whole-blood equivalent the producer reported); 0 when unknown.
    units: float
    #: Its donation was collected as AUTOLOGOUS (pre-deposit, with a DIN).
    autologous: bool

    @property
    def day(self) -> date:
        """The calendar day (UTC) it started: the day of its episode."""
        return self.started_at.date()


@dataclass(frozen=True)
class Reaction:
    """One adverse reaction reported against a unit, by the facility that reported it."""

    event_id: str
    unit_id: str
    patient_id: str
    facility: str
    component: str | None
    category: str
    severity: str
    imputability: str
    onset_at: datetime
    reported_at: datetime

    @property
    def case(self) -> tuple[str, str, datetime]:
        """What makes two reports one case: the patient, the category, the onset."""
        return (self.patient_id, self.category, self.onset_at)

    @property
    def delay(self) -> timedelta:
        """From the reaction's onset to its report (negative: reported before onset)."""
        return self.reported_at - self.onset_at


@dataclass(frozen=True)
class Evaluation:
    """A post-transfusion evaluation of a unit's effect on a patient."""

    unit_id: str
    patient_id: str
    evaluated_at: datetime
    effective: bool

    def evaluates(self, transfusion: Transfusion) -> bool:
        """It is of this transfusion: the same unit and patient, at or after its start."""
        return (
            self.unit_id == transfusion.unit_id
            and self.patient_id == transfusion.patient_id
            and self.evaluated_at >= transfusion.started_at
        )


def first_starts(transfusions: Iterable[Transfusion]) -> list[Transfusion]:
    """Each unit once, at its first start, in start order."""
    first: dict[str, Transfusion] = {}
    for transfusion in sorted(transfusions, key=lambda t: (t.started_at, t.unit_id)):
        first.setdefault(transfusion.unit_id, transfusion)
    return list(first.values())


def episodes(transfusions: Iterable[Transfusion]) -> set[tuple[str, date]]:
    """The transfusion episodes (输血人次): one per patient and calendar day (UTC)."""
    return {(t.patient_id, t.day) for t in transfusions}


def reaction_cases(reactions: Iterable[Reaction]) -> list[Reaction]:
    """Each case once, as first reported (ties: the smaller event id), in report order."""
    first: dict[tuple[str, str, datetime], Reaction] = {}
    for reaction in sorted(reactions, key=lambda r: (r.reported_at, r.event_id)):
        first.setdefault(reaction.case, reaction)
    return list(first.values())


def units_of(transfusions: Iterable[Transfusion], components: Iterable[str]) -> float:
    """The 单位 transfused of these components."""
    wanted = set(components)
    return sum(t.units for t in transfusions if t.component in wanted)
