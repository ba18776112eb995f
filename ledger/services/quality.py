"""The reports quality managers and hemovigilance officers read: one facility, one window.

Three use cases over the read models (:class:`~ledger.services.ports.UsageRecords`):

- :meth:`QualityReports.qc` — the 2019 clinical blood-use quality-control indicators
  the facts support, the component transfusion rate and the post-transfusion
  evaluation rates, and for every other indicator the data it lacks
  (:mod:`ledger.domain.indicators`);
- :meth:`QualityReports.hemovigilance` — reactions by category, severity and
  imputability, their rates, onset-to-report delays (:mod:`ledger.domain.hemovigilance`);
- :meth:`QualityReports.inventory` — days of supply over the window per component and
  group, against the alert thresholds (:mod:`ledger.domain.supply`).

Each gathers a few indexed queries' worth of records, then the domain counts them;
nothing is replayed. Each answer is a frozen report whose ``to_json`` is the document
every rendering (JSON, HTML, PDF) shows, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ledger.domain.din import is_fin
from ledger.domain.hemovigilance import Hemovigilance, hemovigilance
from ledger.domain.indicators import Indicator, quality_indicators
from ledger.domain.instants import iso
from ledger.domain.inventory import AlertLevel, AlertPolicy, Thresholds
from ledger.domain.sentence import Sentence, said
from ledger.domain.supply import Group, SupplyPoint, instants, supply_series, time_in_alert
from ledger.domain.transfusion import episodes, first_starts, reaction_cases
from ledger.services.ports import UsageRecords

#: Progress of a report: (steps done, steps in all).
Progress = Callable[[int, int], None]
#: The longest window a report covers (a decade: the 10-year register rule).
LONGEST_WINDOW = timedelta(days=3660)
#: The finest inventory sampling (a day's stock moves by the hour; finer says nothing more).
FINEST_STEP = timedelta(hours=1)


class Refusal(StrEnum):
    """Why a report cannot be made, as a stable code."""

    NOT_A_FIN = "NOT_A_FIN"
    NO_TIMEZONE = "NO_TIMEZONE"
    ENDS_BEFORE_START = "ENDS_BEFORE_START"
    TOO_LONG = "TOO_LONG"
    STEP_TOO_FINE = "STEP_TOO_FINE"


class InvalidReport(ValueError):
    """A report asked for with arguments that cannot make one: said in one line (its
    message, English) and as a :class:`~ledger.domain.sentence.Sentence` coded by
    :class:`Refusal` (``said``), for a page to say in its reader's language."""

    def __init__(self, code: Refusal, english: str) -> None:
        self.said: Sentence = said(code, english)
        super().__init__(self.said.text)


@dataclass(frozen=True)
class ReportWindow:
    """A facility and a half-open window [start, end) of real-world time (UTC)."""

    facility: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not is_fin(self.facility):
            raise InvalidReport(
                Refusal.NOT_A_FIN,
                "the facility must be an ISBT 128 Facility Identification Number "
                "(5 characters, e.g. S3102)",
            )
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidReport(
                Refusal.NO_TIMEZONE, "the window's start and end need a timezone (UTC)"
            )
        if self.end <= self.start:
            raise InvalidReport(
                Refusal.ENDS_BEFORE_START,
                "the window must end after it starts (--to on or after --from)",
            )
        if self.end - self.start > LONGEST_WINDOW:
            raise InvalidReport(Refusal.TOO_LONG, "the window may be at most 10 years long")

    def to_json(self) -> dict[str, Any]:
        return {"facility": self.facility, "start": iso(self.start), "end": iso(self.end)}


@dataclass(frozen=True)
class QcReport:
    """The quality-control indicators of one facility and window."""

    window: ReportWindow
    indicators: tuple[Indicator, ...]
    units_transfused: int
    units: float
    episodes: int
    reaction_cases: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "qc",
            **self.window.to_json(),
            "totals": {
                "units_transfused": self.units_transfused,
                "units": round(self.units, 2),
                "episodes": self.episodes,
                "reaction_cases": self.reaction_cases,
            },
            "indicators": [i.to_json() for i in self.indicators],
        }


@dataclass(frozen=True)
class HemovigilanceReport:
    """The reactions of one facility and window, counted."""

    window: ReportWindow
    summary: Hemovigilance

    def to_json(self) -> dict[str, Any]:
        return {"kind": "hemovigilance", **self.window.to_json(), **self.summary.to_json()}


@dataclass(frozen=True)
class InventoryReport:
    """Days of supply of one facility's stock groups, sampled across the window."""

    window: ReportWindow
    policy: AlertPolicy
    step: timedelta
    centre: bool
    series: dict[Group, list[SupplyPoint]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        components = dict.fromkeys(component for component, _, _ in self.series)
        thresholds = _thresholds(self.policy, components, centre=self.centre)
        levels = {str(AlertLevel.GREEN), *thresholds["below"]}
        return {
            "kind": "inventory",
            **self.window.to_json(),
            "centre": self.centre,
            "step_hours": self.step / timedelta(hours=1),
            "thresholds": thresholds,
            "groups": [
                {
                    "component": component,
                    "abo": abo,
                    "rhd": rhd,
                    "min_days_of_supply": _least(points),
                    "samples_by_alert": {
                        level: count
                        for level, count in time_in_alert(points).items()
                        if level in levels
                    },
                    "points": [p.to_json() for p in points],
                }
                for (component, abo, rhd), points in self.series.items()
            ],
        }


def _thresholds(policy: AlertPolicy, components: Iterable[str], *, centre: bool) -> dict[str, Any]:
    """The alert thresholds in days of supply (each level is "below" its number): the
    defaults, and those each of the report's components is judged by."""

    def below(thresholds: Thresholds) -> dict[str, float]:
        return {level.upper(): days for level, days in thresholds.to_json(centre=centre).items()}

    return {
        "window_days": policy.window_days,
        "below": below(policy.defaults),
        "by_component": {c: below(policy.thresholds(c)) for c in components},
    }


def _least(points: list[SupplyPoint]) -> float | None:
    known = [p.days_of_supply for p in points if p.days_of_supply is not None]
    return round(min(known), 2) if known else None


class QualityReports:
    """The reports' use cases over one store's read models."""

    def __init__(
        self,
        records: UsageRecords,
        policy: AlertPolicy | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.records = records
        self.policy = policy or AlertPolicy()
        self.progress = progress

    def _step(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def qc(self, window: ReportWindow) -> QcReport:
        """The indicators of the facility's transfusions started and reactions reported
        in the window (and every evaluation of those transfusions)."""
        facility, start, end = window.facility, window.start, window.end
        transfusions = self.records.transfusions(facility, start, end)
        self._step(1, 4)
        reactions = self.records.reactions(facility, start, end)
        self._step(2, 4)
        used = first_starts(transfusions)
        evaluations = self.records.evaluations(sorted({t.unit_id for t in used}))
        self._step(3, 4)
        report = QcReport(
            window=window,
            indicators=tuple(quality_indicators(transfusions, reactions, evaluations)),
            units_transfused=len(used),
            units=sum(t.units for t in used),
            episodes=len(episodes(used)),
            reaction_cases=len(reaction_cases(reactions)),
        )
        self._step(4, 4)
        return report

    def hemovigilance(self, window: ReportWindow) -> HemovigilanceReport:
        """The facility's reactions reported in the window, against its transfusions."""
        facility, start, end = window.facility, window.start, window.end
        reactions = self.records.reactions(facility, start, end)
        self._step(1, 3)
        transfusions = self.records.transfusions(facility, start, end)
        self._step(2, 3)
        report = HemovigilanceReport(window, hemovigilance(reactions, transfusions))
        self._step(3, 3)
        return report

    def inventory(
        self, window: ReportWindow, step: timedelta = timedelta(days=1)
    ) -> InventoryReport:
        """Each stock group's days of supply at ``start``, ``start + step`` … ``end``."""
        if step < FINEST_STEP:
            raise InvalidReport(
                Refusal.STEP_TOO_FINE, "the inventory report samples at most once an hour"
            )
        facility, start, end = window.facility, window.start, window.end
        moments = instants(start, end, step)
        spells = self.records.shelf(facility, start, end)
        self._step(1, 3)
        demand_from = start - timedelta(days=self.policy.window_days)
        uses = self.records.uses(facility, demand_from, end)
        self._step(2, 3)
        centre = self.records.is_centre(facility)
        series = supply_series(spells, uses, moments, self.policy, centre=centre)
        self._step(3, 3)
        return InventoryReport(window, self.policy, step, centre, series)
